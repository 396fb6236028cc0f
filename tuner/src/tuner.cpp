#include "qla/tuner/tuner.hpp"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <set>

#include "qla/hash.hpp"
#include "qla/tuner/lookup.hpp"
#include "qla/tuner/problem_json.hpp"

namespace qla::tuner {

KernelIdentity TunableKernel::identity() const {
  return {space.kernel, source_hash, hex64(space.hash())};
}

std::string candidate_label(const SpaceDecl& space, const Point& values, const Members& members) {
  std::string label = space.label(values);
  if (members.empty()) return label;
  label += " [";
  bool first = true;
  for (const auto& [kernel, m] : members) {
    label += (first ? "" : " ") + kernel + "=" + m.label;
    first = false;
  }
  return label + "]";
}

namespace {
TrialRequest request_with(const std::string& kernel, const gdn::Problem& problem,
                          const Point& values, const Members& members) {
  TrialRequest r{kernel, problem, values};
  for (const auto& [id, m] : members) r.members[id] = m.values;
  return r;
}

/// A strategy that times one point per op (TunableKernel::canonical): it proposes the
/// representative of the op of each point the inner strategy proposes, and where that op was timed
/// already (a seed or a trial, failed ones included) it tells the inner strategy that time at once,
/// without a trial, and asks again. So trials and winners are representatives, and the walk keeps
/// every neighbour.
class OnePerOp final : public Searcher {
 public:
  OnePerOp(std::unique_ptr<Searcher> inner, std::function<Coords(const Coords&)> op)
      : inner_(std::move(inner)), op_(std::move(op)) {}
  std::optional<Coords> next() override {
    for (;;) {
      pending_ = inner_->next();
      if (!pending_) return std::nullopt;
      Coords r = op_(*pending_);
      const auto timed = costs_.find(r);
      if (timed == costs_.end()) return r;
      inner_->report(*pending_, timed->second);
    }
  }
  void report(const Coords& c, double cost) override {
    costs_.emplace(c, cost);
    inner_->report(*pending_, cost);
  }
  std::vector<Coords> upcoming(std::size_t n) const override {
    std::vector<Coords> out;
    for (const Coords& c : inner_->upcoming(n)) {
      Coords r = op_(c);
      if (!costs_.count(r) && std::find(out.begin(), out.end(), r) == out.end())
        out.push_back(std::move(r));
    }
    return out;
  }
  void seed(const Coords& c, double cost) override {
    costs_.emplace(op_(c), cost);
    inner_->seed(c, cost);
  }

 private:
  std::unique_ptr<Searcher> inner_;
  std::function<Coords(const Coords&)> op_;
  std::map<Coords, double> costs_;
  std::optional<Coords> pending_;  // the inner strategy's proposal being timed
};
}  // namespace

Tuner::Tuner(Store& store, DeviceFingerprint device, ArchInfo arch, TrialRunner& runner,
             std::int64_t run_id, TuneOptions options)
    : store_(store),
      device_(std::move(device)),
      arch_(arch),
      runner_(runner),
      run_id_(run_id),
      options_(std::move(options)) {}

CompileQueue& Tuner::queue_for(const TunableKernel& kernel) {
  const KernelIdentity id = kernel.identity();
  auto& q = queues_[id.kernel + "/" + id.source_hash + "/" + id.space_hash];
  if (!q) q = std::make_unique<CompileQueue>(kernel.compile, options_.compile_threads);
  return *q;
}

TuneOutcome Tuner::tune(const TunableKernel& kernel, const gdn::Problem& problem) {
  const SpaceDecl& space = kernel.space;
  const KernelIdentity id = kernel.identity();
  CompileQueue& queue = queue_for(kernel);
  TuneOutcome out;
  out.kernel = space.kernel;
  out.problem = problem_key(problem);
  TuneProgress progress;
  progress.kernel = out.kernel;
  progress.problem = out.problem;

  // Coordinates of the representative of the op a point runs (TunableKernel::canonical; the
  // point itself where the representative is not in the space), memoised: for the op plan it
  // builds CP splits.
  std::map<Coords, Coords> ops;
  const auto op_of = [&](const Coords& c) -> Coords {
    if (!kernel.canonical) return c;
    auto it = ops.find(c);
    if (it == ops.end()) {
      const auto r = space.coords_of(kernel.canonical(problem, space.point_at(c)));
      it = ops.emplace(c, r ? *r : c).first;
    }
    return it->second;
  };
  std::unique_ptr<Searcher> searcher =
      make_searcher(options_.strategy, space, arch_, options_.seed);
  if (kernel.canonical) searcher = std::make_unique<OnePerOp>(std::move(searcher), op_of);
  auto evaluate = [&](const Coords& c) {
    const Point point = space.point_at(c);
    const Members members = kernel.members ? kernel.members(problem, point) : Members{};
    const std::string label = candidate_label(space, point, members);
    TrialResult result;
    if (auto stored = store_.find_trial(device_, id, problem, label)) {
      result = stored->result;
      ++out.resumed;
    } else {
      for (const Coords& next : searcher->upcoming(options_.compile_ahead)) {
        const Point p = space.point_at(next);
        const std::string l = space.label(p);
        if (kernel.compile && !store_.find_trial(device_, id, problem, l)) queue.prefetch(l, p);
      }
      result = measure(kernel, problem, point, members, label);
      ++out.measured;
      ++out.by_status[static_cast<std::size_t>(result.status)];
    }
    const double cost = trial_cost(result);
    ++progress.trials;
    progress.resumed = out.resumed;
    progress.last_config = label;
    progress.last_status = result.status;
    if (std::isfinite(cost) && (progress.best_us == 0 || cost < progress.best_us)) {
      progress.best_us = cost;
      progress.best_config = label;
    }
    if (options_.on_trial) options_.on_trial(progress);
    return cost;
  };
  // Seeds, within the budget and in this order: the untuned op (the winner's speedup is over it);
  // the kernel's alternatives (the op plan with the other CP decision); for a joint space the
  // default at each value of its first axis (the op plan's chunk size: every kernel changes with
  // it); with transfer on, this problem's winner under the kernel's previous sources or space
  // (recall: a retune after a code change starts from what won before) and the winners of tuned
  // neighbours (transfer).
  // Each seed is its op's representative; a seed whose op is seeded already is dropped.
  enum class SeedKind { kOwn, kRecalled, kNeighbour };
  std::vector<Coords> seeds;
  std::vector<SeedKind> kinds;
  // This problem's first trial under the kernel's identity, before this run's (none: a fresh
  // start): a resumed problem seeds only from winners decided before it, so a rerun takes the same
  // path and measures nothing new.
  const std::optional<std::string> started =
      store_.first_trial_at(device_, kernel.identity(), problem);
  const std::vector<Coords> transfer = transfer_seeds(kernel, problem, started);
  auto add_seed = [&](const Point& p, SeedKind kind = SeedKind::kOwn) {
    const auto given = space.coords_of(p);
    if (!given || !space.is_buildable(p, arch_)) return;
    const Coords c = op_of(*given);
    if (std::find(seeds.begin(), seeds.end(), c) != seeds.end() ||
        !space.is_buildable(space.point_at(c), arch_))
      return;
    seeds.push_back(c);
    kinds.push_back(kind);
  };
  if (kernel.baseline) add_seed(kernel.baseline(problem));
  if (kernel.alternatives)
    for (const Point& p : kernel.alternatives(problem)) add_seed(p);
  if (kernel.members) {
    for (const int v : space.axes.at(0).values) {
      Point p = space.default_point;
      p.at(0) = v;
      add_seed(p);
    }
  }
  if (options_.transfer > 0) {
    const std::vector<Winner> earlier =
        store_.earlier_winners(device_, kernel.identity(), problem, started);
    if (!earlier.empty()) add_seed(earlier.front().values, SeedKind::kRecalled);
  }
  for (const Coords& c : transfer) add_seed(space.point_at(c), SeedKind::kNeighbour);
  const auto t0 = std::chrono::steady_clock::now();
  auto seconds_since_start = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  Budget budget = options_.budget;
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    if (budget.max_trials && out.seeded >= budget.max_trials) break;
    if (budget.max_seconds > 0 && seconds_since_start() >= budget.max_seconds) break;
    if (options_.stop && options_.stop()) break;
    searcher->seed(seeds[i], evaluate(seeds[i]));
    ++out.seeded;
    if (kinds[i] == SeedKind::kNeighbour) ++out.transferred;
    if (kinds[i] == SeedKind::kRecalled) ++out.recalled;
  }
  bool spent = false;
  if (budget.max_trials) {
    spent = out.seeded >= budget.max_trials;
    budget.max_trials -= std::min(budget.max_trials, out.seeded);
  }
  if (budget.max_seconds > 0) {  // the seeds' time counts against a time budget too
    const double used = seconds_since_start();
    spent = spent || used >= budget.max_seconds;
    budget.max_seconds = std::max(budget.max_seconds - used, 1e-3);
  }
  const SearchOutcome s = spent ? SearchOutcome{{}, {}, true, false}
                                : run_search(*searcher, evaluate, budget, options_.stop);
  out.trials = out.seeded + s.trials.size();
  out.budget_exhausted = s.budget_exhausted;
  out.stopped = s.stopped || (options_.stop && options_.stop());
  if (out.stopped) return out;  // everything measured is committed; a rerun resumes and decides
  decide_winner(kernel, problem, out);
  return out;
}

TrialResult Tuner::measure(const TunableKernel& kernel, const gdn::Problem& problem,
                           const Point& point, const Members& members, const std::string& label) {
  TrialResult result;
  const CompileResult compiled = queue_for(kernel).get(label, point);
  if (!compiled.ok) {
    result.status = TrialStatus::kCompileError;
    result.message = compiled.message;
    result.resources = compiled.resources;
  } else {
    result = runner_.run_trial(request_with(kernel.space.kernel, problem, point, members));
    if (result.resources.registers < 0) result.resources = compiled.resources;
  }
  store_.put_trial(device_,
                   TrialRecord{kernel.identity(), problem, label, point, result, run_id_, {}, {}});
  return result;
}

std::optional<TrialResult> Tuner::untuned_trial(const TunableKernel& kernel,
                                                const gdn::Problem& problem, bool& measured) {
  measured = false;
  const Point point = kernel.baseline_point(problem);
  if (!kernel.space.is_buildable(point, arch_)) return std::nullopt;
  const Members members = kernel.members ? kernel.members(problem, point) : Members{};
  const std::string label = candidate_label(kernel.space, point, members);
  if (auto stored = store_.find_trial(device_, kernel.identity(), problem, label))
    return stored->result;
  measured = true;
  return measure(kernel, problem, point, members, label);
}

TuneOutcome Tuner::keep_untuned(const TunableKernel& kernel, const gdn::Problem& problem,
                                const char* reason) {
  TuneOutcome out;
  out.kernel = kernel.space.kernel;
  out.problem = problem_key(problem);
  out.skip_reason = reason;
  const KernelIdentity id = kernel.identity();
  if (auto w = store_.winner(device_, id, problem)) {  // decided before: a search's, or this
    out.winner = w;
    out.winner_reused = true;
    return out;
  }
  bool measured = false;
  const std::optional<TrialResult> t = untuned_trial(kernel, problem, measured);
  if (!t) return out;
  out.trials = out.seeded = 1;
  (measured ? out.measured : out.resumed) = 1;
  if (t->status != TrialStatus::kOk) return out;
  const Point point = kernel.baseline_point(problem);
  const Members members = kernel.members ? kernel.members(problem, point) : Members{};
  const Winner w{candidate_label(kernel.space, point, members), point, t->time.median_us,
                 t->time.median_us};
  store_.put_winner(device_, id, problem, w, run_id_);
  out.winner = w;
  return out;
}

TuneOutcome Tuner::tune_or_keep(const TunableKernel& kernel, const gdn::Problem& problem,
                                const std::set<std::string>& slow) {
  if (!kernel.launched_for(problem)) return keep_untuned(kernel, problem, kSkipNotLaunched);
  if (slow.count(kernel.space.kernel)) return keep_untuned(kernel, problem, kSkipSlowVariant);
  return tune(kernel, problem);
}

std::set<std::string> Tuner::slow_variants(const std::vector<TunableKernel>& kernels,
                                           const gdn::Problem& problem, double ratio) {
  std::set<std::string> slow;
  if (ratio <= 0) return slow;
  std::map<std::string, std::vector<const TunableKernel*>> by_role;
  for (const TunableKernel& k : kernels)
    if (!k.role.empty()) by_role[k.role].push_back(&k);
  for (const auto& [role, variants] : by_role) {
    if (variants.size() < 2) continue;
    std::vector<double> untuned;
    for (const TunableKernel* k : variants) {
      if (options_.stop && options_.stop()) return {};
      bool measured = false;
      const std::optional<TrialResult> t = untuned_trial(*k, problem, measured);
      untuned.push_back(t && t->status == TrialStatus::kOk ? t->time.median_us : INFINITY);
    }
    const double fastest = *std::min_element(untuned.begin(), untuned.end());
    if (!std::isfinite(fastest)) continue;
    for (std::size_t i = 0; i < variants.size(); ++i)
      if (untuned[i] > ratio * fastest) slow.insert(variants[i]->space.kernel);
  }
  return slow;
}

void Tuner::decide_winner(const TunableKernel& kernel, const gdn::Problem& problem,
                          TuneOutcome& out) {
  const SpaceDecl& space = kernel.space;
  const KernelIdentity id = kernel.identity();
  if (out.measured == 0) {
    if (auto w = store_.winner(device_, id, problem)) {
      out.winner = w;
      out.winner_reused = true;
      adopt_members(kernel, problem, *w);
      return;
    }
  }
  // Candidates: every valid trial the store holds for this problem (this run's and earlier ones);
  // for a joint space only those measured with the members a candidate would run with now.
  std::vector<TrialRecord> ok;
  for (TrialRecord& t : store_.trials(device_, id, problem)) {
    if (t.result.status != TrialStatus::kOk || !space.contains(t.values)) continue;
    if (kernel.members &&
        t.config != candidate_label(space, t.values, kernel.members(problem, t.values)))
      continue;
    ok.push_back(std::move(t));
  }
  if (ok.empty()) return;
  std::sort(ok.begin(), ok.end(), [&](const TrialRecord& a, const TrialRecord& b) {
    if (a.result.time.median_us != b.result.time.median_us)
      return a.result.time.median_us < b.result.time.median_us;
    return flat_index(space, *space.coords_of(a.values)) <
           flat_index(space, *space.coords_of(b.values));
  });
  if (kernel.canonical) {  // one finalist per op, the fastest of its trials (an older store may
                           // hold several), and the baseline's trial
    std::set<Point> ops;
    const Point baseline = kernel.baseline_point(problem);
    ok.erase(std::remove_if(ok.begin(), ok.end(),
                            [&](const TrialRecord& t) {
                              return !ops.insert(kernel.canonical(problem, t.values)).second &&
                                     t.values != baseline;
                            }),
             ok.end());
  }
  std::vector<Coords> finalists;
  for (std::size_t i = 0; i < ok.size() && i < std::max<std::size_t>(options_.finalists, 1); ++i)
    finalists.push_back(*space.coords_of(ok[i].values));
  const Point default_point = kernel.baseline_point(problem);
  const auto default_coords = space.coords_of(default_point);
  const bool default_ok = std::any_of(
      ok.begin(), ok.end(), [&](const TrialRecord& t) { return t.values == default_point; });
  if (default_ok && default_coords &&
      std::find(finalists.begin(), finalists.end(), *default_coords) == finalists.end())
    finalists.push_back(*default_coords);

  Winner w;
  if (finalists.size() == 1) {
    w = {ok[0].config, ok[0].values, ok[0].result.time.median_us,
         ok[0].values == default_point ? ok[0].result.time.median_us : 0};
  } else {
    auto sample = [&](const Coords& c) {
      return runner_.sample(request_for(kernel, problem, space.point_at(c)));
    };
    FinalChoice choice = remeasure_top(space, finalists, sample, options_.final_rounds,
                                       options_.tie_tolerance, default_coords);
    // A finalist that failed a sample (e.g. crashed its worker) cannot win: decide among the
    // others.
    std::vector<Coords> healthy;
    for (const Finalist& f : choice.finalists)
      if (std::all_of(f.samples.begin(), f.samples.end(),
                      [](double x) { return std::isfinite(x); }))
        healthy.push_back(f.coords);
    if (healthy.empty()) return;
    if (healthy.size() != choice.finalists.size())
      choice = remeasure_top(space, healthy, sample, options_.final_rounds, options_.tie_tolerance,
                             default_coords);
    const Finalist& win = choice.finalists[choice.winner];
    const Point values = space.point_at(win.coords);
    w = {kernel.members ? candidate_label(space, values, kernel.members(problem, values))
                        : space.label(values),
         values, win.median_us, 0};
    for (const Finalist& f : choice.finalists)
      if (default_coords && f.coords == *default_coords) w.default_median_us = f.median_us;
  }
  if (kernel.members) {
    // A joint space's "default" is the untuned op, as for every kernel: its members' untuned-config
    // trials are that op (the others ran at their defaults then), not the space's default point
    // with tuned members. The baseline member's trial first: the others' default trials may predate
    // a change of the untuned rules.
    w.default_median_us = 0;
    const Members members = kernel.members(problem, w.values);
    for (const bool baseline : {true, false}) {
      for (const auto& [member, m] : members) {
        if (m.baseline != baseline || w.default_median_us > 0) continue;
        const auto d = store_.find_trial(device_, m.identity, problem, m.default_label);
        if (d && d->result.status == TrialStatus::kOk)
          w.default_median_us = d->result.time.median_us;
      }
    }
  }
  store_.put_winner(device_, id, problem, w, run_id_);
  out.winner = w;
  adopt_members(kernel, problem, w);
}

std::vector<Coords> Tuner::transfer_seeds(const TunableKernel& kernel, const gdn::Problem& problem,
                                          const std::optional<std::string>& started) const {
  if (options_.transfer == 0) return {};
  const std::string key = problem_key(problem);
  std::vector<std::pair<double, const TunedEntry*>> near;
  const std::vector<TunedEntry> entries = store_.tuned_entries(kernel.identity());
  for (const TunedEntry& e : entries)
    if (e.device_digest == device_.digest() && e.problem != key &&
        same_class(e.problem_value, problem) && (!started || e.last_trial_at <= *started))
      near.emplace_back(problem_distance(e.problem_value, problem), &e);
  std::stable_sort(near.begin(), near.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Coords> seeds;  // one per op this problem would run (TunableKernel::canonical)
  for (const auto& [distance, e] : near) {
    if (seeds.size() >= options_.transfer) break;
    if (!kernel.space.contains(e->values)) continue;
    const Point v = kernel.canonical ? kernel.canonical(problem, e->values) : e->values;
    const auto c = kernel.space.coords_of(v);
    if (!c || !kernel.space.is_buildable(v, arch_)) continue;
    if (std::find(seeds.begin(), seeds.end(), *c) == seeds.end()) seeds.push_back(*c);
  }
  return seeds;
}

TrialRequest Tuner::request_for(const TunableKernel& kernel, const gdn::Problem& problem,
                                const Point& values) const {
  return request_with(kernel.space.kernel, problem, values,
                      kernel.members ? kernel.members(problem, values) : Members{});
}

void Tuner::adopt_members(const TunableKernel& kernel, const gdn::Problem& problem,
                          const Winner& w) {
  if (!kernel.members) return;
  for (const auto& [id, m] : kernel.members(problem, w.values)) {
    Winner mw{m.label, m.values, w.median_us, 0};
    if (auto d = store_.find_trial(device_, m.identity, problem, m.default_label);
        d && d->result.status == TrialStatus::kOk)
      mw.default_median_us = d->result.time.median_us;
    store_.put_winner(device_, m.identity, problem, mw, run_id_);
  }
}

}  // namespace qla::tuner
