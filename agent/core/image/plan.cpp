#include "image/plan.hpp"

#include <algorithm>
#include <set>

namespace airlock::image {

std::vector<Need> needs(const release::Manifest& m, const std::vector<docker::LocalImage>& local) {
  std::vector<Need> out;
  for (const auto& img : m.images) {
    if (std::any_of(local.begin(), local.end(), [&](const docker::LocalImage& l) { return l.id == img.id; })) continue;
    Need n{&img, 0, "", std::vector<std::string>(img.layers.size())};
    for (const auto& l : local) consider(n, l);
    out.push_back(n);
  }
  return out;
}

void consider(Need& n, const docker::LocalImage& l) {
  const auto& layers = n.image->layers;
  std::size_t k = 0;
  while (k < layers.size() && k < l.layers.size() && layers[k].diff_id == l.layers[k]) ++k;
  if (k > n.held) {
    n.held = k;
    n.holder = l.id;
  }
  n.delta_holder.resize(layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (layers[i].delta && n.delta_holder[i].empty() &&
        std::find(l.layers.begin(), l.layers.end(), layers[i].delta->base) != l.layers.end())
      n.delta_holder[i] = l.id;
}

bool by_delta(const Need& n, std::size_t i, const TakeDelta& take) {
  const auto& layer = n.image->layers[i];
  return layer.delta && i < n.delta_holder.size() && !n.delta_holder[i].empty() && (!take || take(layer.delta->blob));
}

std::vector<std::string> blobs(const std::vector<Need>& n, const TakeDelta& take) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& name) {
    if (seen.insert(name).second) out.push_back(name);
  };
  for (const auto& need : n) {
    add(need.image->config);
    for (std::size_t i = need.held; i < need.image->layers.size(); ++i)
      add(by_delta(need, i, take) ? need.image->layers[i].delta->blob : need.image->layers[i].blob);
  }
  return out;
}

} // namespace airlock::image
