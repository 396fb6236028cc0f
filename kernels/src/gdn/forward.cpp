// forward, prepare_lists and call_status: one call of a plan (argument checks, the call's work
// lists and params, the launches) and its error word (the planning is plan.cpp).
#include "qla/gdn/forward.hpp"

#include <cstdint>
#include <sstream>
#include <string>

#include "plan_impl.hpp"
#include "qla/cuda/check.hpp"
#include "qla/cuda/launcher.hpp"
#include "qla/error.hpp"
#include "qla/gdn/call_error.hpp"
#include "qla/gdn/cp.hpp"
#include "qla/gdn/cp_m_map.hpp"
#include "qla/gdn/cumsum.hpp"
#include "qla/gdn/fused_fwd.hpp"
#include "qla/gdn/fused_fwd_wgmma_launch.hpp"
#include "qla/gdn/kkt_solve.hpp"
#include "qla/gdn/l2norm.hpp"
#include "qla/gdn/naive_fwd.hpp"
#include "qla/gdn/state_pass.hpp"
#include "qla/gdn/state_pass_wgmma.hpp"
#include "qla/gdn/unfused.hpp"
#include "qla/gdn/work_list.hpp"

namespace qla::gdn {

namespace {

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

std::string check_tensor(const char* name, const TokenTensor& t, int dim, std::size_t elem) {
  std::ostringstream os;
  if (t.data == nullptr) {
    os << "tensor " << name << " is null";
  } else if (!aligned16(t.data)) {
    os << "tensor " << name << " is not 16-byte aligned";
  } else if (dim > 1 && (t.stride_token < dim || t.stride_head < dim || t.stride_batch < 0)) {
    os << "tensor " << name << ": strides (" << t.stride_batch << ", " << t.stride_token << ", "
       << t.stride_head << ") overlap rows of " << dim << " elements";
  } else if (dim > 1 && ((t.stride_token * elem) % 16 || (t.stride_head * elem) % 16 ||
                         (t.stride_batch * elem) % 16)) {
    os << "tensor " << name << ": strides must be multiples of 16 bytes";
  }
  return os.str();
}

std::string validate(const ForwardArgs& a, const Plan::Impl& im) {
  const Problem& p = im.problem;
  std::ostringstream os;
  if (a.batch < 1 || a.tokens < 0) {
    os << "batch " << a.batch << " and tokens " << a.tokens << " must be >= 1 and >= 0";
  } else if (a.batch > im.max_rows || a.batch * a.tokens > im.max_rows) {
    os << a.batch << " x " << a.tokens << " token rows exceed the plan's " << im.max_rows
       << " (make the plan with PlanOptions::max_rows)";
  } else if (a.cu_seqlens != nullptr && a.batch != 1) {
    os << "cu_seqlens needs batch == 1 (packed sequences), got batch " << a.batch;
  } else if (a.cu_seqlens != nullptr && (a.num_sequences < 1)) {
    os << "cu_seqlens given with " << a.num_sequences << " sequences (need >= 1)";
  } else if (a.cu_seqlens != nullptr &&
             reinterpret_cast<std::uintptr_t>(a.cu_seqlens) % alignof(int)) {
    os << "cu_seqlens is not 4-byte aligned";
  } else if (a.sequences() > im.max_sequences) {
    os << a.sequences() << " sequences exceed the plan's " << im.max_sequences
       << " (make the plan with PlanOptions::max_sequences)";
  }
  if (!os.str().empty()) return os.str();
  const std::size_t e = dtype_size(p.qkv_dtype);
  for (auto [name, t, dim, size] :
       {std::tuple{"q", a.q, p.k_dim, e}, std::tuple{"k", a.k, p.k_dim, e},
        std::tuple{"v", a.v, p.v_dim, e}, std::tuple{"o", a.o, p.v_dim, e},
        std::tuple{"g", a.g, 1, dtype_size(p.gate_dtype)},
        std::tuple{"beta", a.beta, 1, dtype_size(p.beta_dtype)}}) {
    if (auto why = check_tensor(name, t, dim, size); !why.empty()) return why;
  }
  if (p.initial_state && (a.h0 == nullptr || !aligned16(a.h0)))
    return "h0 is null or not 16-byte aligned";
  if (!p.initial_state && a.h0 != nullptr) return "h0 given but the problem has no initial state";
  if (p.final_state && (a.ht == nullptr || !aligned16(a.ht)))
    return "ht is null or not 16-byte aligned";
  return {};
}

// A call's sequence metadata in the workspace: the views the kernels read and the work-list
// kernel's params that fill them.
struct CallLists {
  SequenceView raw{}, pieces{};
  const int* piece_is_last = nullptr;
  const int* raw_first_piece = nullptr;
  const int* ht_index = nullptr;
  WorkListParams build{};
};

CallLists call_lists(const Plan::Impl& im, const ForwardArgs& a, char* ws) {
  const WorkListLayout& l = im.lists;
  const int n = static_cast<int>(a.sequences());
  const long long rows = a.batch * a.tokens;
  const int L = im.piece_chunks_of_lists();
  const WorkListCapacity cap = work_list_capacity(rows, n, im.chunk, L);
  auto at = [ws](std::size_t off) {
    return off == WorkListLayout::kNone ? nullptr : reinterpret_cast<int*>(ws + off);
  };
  CallLists c;
  WorkListParams& b = c.build;
  b = {a.cu_seqlens,
       n,
       a.tokens,
       rows,
       im.chunk,
       L,
       cap.max_chunks,
       cap.max_pieces,
       at(l.cu),
       at(l.chunk_index),
       at(l.chunk_offset),
       at(l.piece_cu),
       at(l.piece_chunk_index),
       at(l.piece_chunk_offset),
       at(l.piece_is_last),
       at(l.ht_index),
       at(l.raw_first_piece),
       at(l.error)};
  c.raw = {b.cu, b.chunk_index, b.chunk_offset, n, cap.max_chunks, a.tokens, rows};
  if (L > 0) {
    c.pieces = {b.piece_cu,
                b.piece_chunk_index,
                b.piece_chunk_offset,
                cap.max_pieces,
                cap.max_chunks,
                a.tokens,
                rows};
    c.piece_is_last = b.piece_is_last;
    c.raw_first_piece = b.raw_first_piece;
    c.ht_index = b.ht_index;
  }
  return c;
}

// Every Params struct of the fused path for one call, built and checked before anything is
// launched.
struct FusedLaunch {
  ChunkCumsumParams cumsum{};
  KktSolveParams kkt{};
  CpWarmupParams warmup{};
  StatePassParams state{};
  CpCorrectParams correct{};
  FusedFwdParams fused{};
  FusedFwdWgmmaParams wgmma{};        ///< the chunk forward's params when its variant is wgmma
  FusedFwdWgmmaParams state_wgmma{};  ///< the state pass's when it runs on the wgmma chain

  std::string check(bool cp, bool state_on_wgmma) const {
    for (std::string why : {check_params(kkt), check_params(fused),
                            !cp              ? std::string()
                            : state_on_wgmma ? check_state_pass_wgmma(state_wgmma, true)
                                             : check_params(state)})
      if (!why.empty()) return why;
    return {};
  }
};

FusedLaunch fused_params(const Plan::Impl& im, const ForwardArgs& args, const CallLists& lists,
                         const TokenTensor& q, const TokenTensor& k, char* ws) {
  const Problem& p = im.problem;
  const FusedWorkspaceLayout& w = im.fused_ws;
  const bool cp = im.cp;
  const int group = p.h_v / p.h_qk;
  const TokenTensor g_cum = contiguous_tensor(ws + w.g_cum, args.tokens, p.h_v, 1);
  const TokenTensor a_r = contiguous_tensor(ws + w.a_r, args.tokens, p.h_v, im.fused.chunk);
  FusedLaunch l;
  l.cumsum = {args.g, g_cum, lists.raw, p.h_v};
  l.kkt = {k, args.beta, a_r, lists.raw, p.h_v, group, lists.build.error, {}, {}, kKktGateF32};
  if (im.kkt.fuse_cumsum) {  // kkt_solve writes g_cum too: no cumsum launch
    l.kkt.g_in = args.g;
    l.kkt.g_out = g_cum;
    l.kkt.g_dtype = p.gate_dtype == DType::kBF16 ? kKktGateBF16 : kKktGateF32;
  }
  FusedFwdParams& f = l.fused;
  f.q = q;
  f.k = k;
  f.v = args.v;
  f.a = a_r;
  f.g = g_cum;
  f.beta = args.beta;
  f.o = args.o;
  // With CP every piece starts from its corrected state and only the last piece of a raw sequence
  // writes ht.
  f.h0 = cp ? reinterpret_cast<const float*>(ws + w.cp_h0) : args.h0;
  f.h0_index = nullptr;
  f.ht = p.final_state ? args.ht : nullptr;
  f.ht_index = cp ? lists.ht_index : nullptr;
  f.seq = cp ? lists.pieces : lists.raw;
  f.heads_v = p.h_v;
  f.group = group;
  f.scale = static_cast<float>(p.effective_scale());
  if (cp) {
    auto* num_warmup = reinterpret_cast<int*>(ws + w.num_warmup);
    auto* fallback = reinterpret_cast<int*>(ws + w.fallback);
    auto* cp_ht = reinterpret_cast<float*>(ws + w.cp_ht);
    auto* cp_m = reinterpret_cast<float*>(ws + w.cp_m);
    l.warmup = {g_cum,
                lists.pieces.cu_seqlens,
                lists.piece_is_last,
                num_warmup,
                fallback,
                args.tokens,
                lists.pieces.num_sequences,
                p.h_v,
                im.fused.chunk,
                im.cp_threshold};
    // Warm-up from a zero state (h0 null): ht = R of the last n chunks, and M where a head runs the
    // whole piece.
    l.state = {k,       args.v, a_r,  g_cum,        args.beta, num_warmup,
               nullptr, cp_ht,  cp_m, lists.pieces, p.h_v,     group};
    if (im.state_on_wgmma) {  // the chunk forward's inputs, no q (k stands in), o or h0
      FusedFwdParams s = f;
      s.q = k;
      s.o = {};
      s.h0 = nullptr;
      s.ht = cp_ht;
      s.ht_index = nullptr;
      l.state_wgmma = make_fused_wgmma_params(s, args.batch, args.tokens, p.h_qk);
      // Its CTAs walk their windows themselves and write num_warmup and fallback: no warm-up
      // launch.
      l.state_wgmma.num_warmup = num_warmup;
      l.state_wgmma.piece_is_last = lists.piece_is_last;
      l.state_wgmma.fallback = fallback;
      l.state_wgmma.threshold = im.cp_threshold;
      l.state_wgmma.m = cp_m;
    }
    l.correct = {args.h0,
                 cp_ht,
                 cp_m,
                 fallback,
                 lists.raw_first_piece,
                 reinterpret_cast<float*>(ws + w.cp_h0),
                 p.h_v,
                 {}};
    if (im.correct.stage_m == 2)  // M by tensor copies: a view over the workspace's capacity
      l.correct.m_map =
          cuda::encode_tensor_map(cp_correct_m_map_desc(cp_m, static_cast<long long>(w.cp_states)));
  }
  if (im.fused.wgmma != 0) l.wgmma = make_fused_wgmma_params(f, args.batch, args.tokens, p.h_qk);
  return l;
}

// first_of_call: no launch of the call precedes these (the work lists prepared, no l2norm).
void launch_fused(const Plan::Impl& im, const FusedLaunch& l, const CallLists& lists,
                  bool first_of_call, cudaStream_t stream) {
  const int h = im.problem.h_v;
  // A kernel that follows another of the call (the work list, l2norm, or one below) may launch
  // early under programmatic dependent launch; each waits for its predecessor first (griddep.cuh).
  // Without CP all of them do (im.pdl); with CP those in im.cp_pdl (a CpLaunch mask). The call's
  // first launch is a plain one, whatever precedes it in the stream.
  const auto chained = [&](cuda::LaunchShape s, CpLaunch on_cp_path) {
    s.programmatic_dependent_launch = !first_of_call && (im.pdl || (im.cp_pdl & on_cp_path) != 0);
    first_of_call = false;
    return s;
  };
  if (!im.kkt.fuse_cumsum)
    im.cumsum_kernel->launch(
        chained(cumsum_shape(im.cumsum, lists.raw.num_chunks, h), kCpLaunchPrep), &l.cumsum,
        stream);
  im.kkt_kernel->launch(chained(kkt_solve_shape(im.kkt, lists.raw.num_chunks, im.problem.h_qk,
                                                im.problem.h_v, im.kkt_resident_ctas),
                                kCpLaunchPrep),
                        &l.kkt, stream);
  const int pieces = lists.pieces.num_sequences;
  if (im.cp) {
    if (!im.state_on_wgmma)
      im.warmup_kernel->launch(chained(cp_warmup_shape(pieces, h), kCpLaunchWarmup), &l.warmup,
                               stream);
    if (im.state_on_wgmma)
      im.state_kernel->launch(
          chained(state_pass_wgmma_shape(im.state_wgmma, pieces, h, true), kCpLaunchStatePass),
          &l.state_wgmma, stream);
    else
      im.state_kernel->launch(
          chained(state_pass_shape(im.state, pieces, h, true), kCpLaunchStatePass), &l.state,
          stream);
    im.correct_kernel->launch(
        chained(cp_correct_shape(im.correct, h, lists.raw.num_sequences), kCpLaunchCorrection),
        &l.correct, stream);
  }
  const cuda::LaunchShape shape =
      chained(fused_fwd_shape(im.fused, im.cp ? pieces : lists.raw.num_sequences, h),
              kCpLaunchChunkForward);
  if (im.fused.wgmma != 0)
    im.fused_kernel->launch(shape, &l.wgmma, stream);
  else
    im.fused_kernel->launch(shape, &l.fused, stream);
}

// The checks of a call before anything is launched: ok, or why nothing is.
Status check_call(const ForwardArgs& args, const Plan::Impl& im, const void* workspace) {
  if (!im.not_implemented.empty()) return Status::not_implemented(im.not_implemented);
  if (auto why = validate(args, im); !why.empty()) return Status::invalid_argument(why);
  if (im.workspace > 0 &&
      (workspace == nullptr || reinterpret_cast<std::uintptr_t>(workspace) % kAlign)) {
    return Status::invalid_argument("workspace is null or not 256-byte aligned (" +
                                    std::to_string(im.workspace) + " bytes needed)");
  }
  return Status::success();
}

}  // namespace

Status prepare_lists(const ForwardArgs& args, const Plan& plan, void* workspace,
                     cudaStream_t stream) {
  const Plan::Impl& im = plan.impl();
  if (Status s = check_call(args, im, workspace); !s.ok()) return s;
  const CallLists lists = call_lists(im, args, static_cast<char*>(workspace));
  try {
    im.work_list_kernel->launch(work_list_shape(), &lists.build, stream);
  } catch (const UserError& e) {
    return Status::invalid_argument(e.what());
  } catch (const ApiError& e) {
    return Status::launch_error(e.what());
  }
  return Status::success();
}

Status forward(const ForwardArgs& args, const Plan& plan, void* workspace, cudaStream_t stream) {
  const Plan::Impl& im = plan.impl();
  if (Status s = check_call(args, im, workspace); !s.ok()) return s;
  const Problem& p = im.problem;
  char* ws = static_cast<char*>(workspace);
  TokenTensor q = args.q, k = args.k;
  if (p.l2norm_qk) {
    q = contiguous_tensor(ws, args.tokens, p.h_qk, 128);
    k = contiguous_tensor(ws + im.l2norm_bytes, args.tokens, p.h_qk, 128);
  }
  const CallLists lists = call_lists(im, args, ws);
  FusedLaunch fused;
  if (im.algorithm == Algorithm::kFused) {
    try {
      fused = fused_params(im, args, lists, q, k, ws);
    } catch (const UserError& e) {  // a tensor the chunk forward's TMA views cannot take
      return Status::invalid_argument(e.what());
    } catch (const ApiError& e) {
      return Status::launch_error(e.what());
    }
    if (auto why = fused.check(im.cp, im.state_on_wgmma); !why.empty())
      return Status::invalid_argument(why);
  }
  try {
    const bool build_lists = args.lists == Lists::kBuild;
    if (build_lists) im.work_list_kernel->launch(work_list_shape(), &lists.build, stream);
    if (p.l2norm_qk) {
      L2NormParams lp{};
      lp.rows = args.batch * args.tokens;
      lp.tokens_per_row = args.tokens;
      lp.heads = p.h_qk;
      lp.eps = 1e-6f;
      const auto shape = l2norm_shape(im.l2norm, lp.rows, lp.heads);
      lp.x = args.q;
      lp.y = q;
      im.l2norm_kernel->launch(shape, &lp, stream);
      lp.x = args.k;
      lp.y = k;
      im.l2norm_kernel->launch(shape, &lp, stream);
    }
    switch (im.algorithm) {
      case Algorithm::kNaive: {
        NaiveFwdParams np{};
        np.q = q;
        np.k = k;
        np.v = args.v;
        np.g = args.g;
        np.beta = args.beta;
        np.o = args.o;
        np.h0.data = const_cast<float*>(args.h0);
        np.ht.data = p.final_state ? args.ht : nullptr;
        np.seq = lists.raw;
        np.h_qk = p.h_qk;
        np.h_v = p.h_v;
        np.scale = static_cast<float>(p.effective_scale());
        im.naive_kernel->launch(naive_fwd_shape(im.naive, p.h_v, lists.raw.num_sequences), &np,
                                stream);
        break;
      }
      case Algorithm::kUnfused: {
        UnfusedArgs ua;
        UnfusedParams& t = ua.tensors;
        t.q = q;
        t.k = k;
        t.v = args.v;
        t.g = args.g;
        t.beta = args.beta;
        t.o = args.o;
        t.h0.data = const_cast<float*>(args.h0);
        t.ht.data = p.final_state ? args.ht : nullptr;
        t.seq = lists.raw;
        t.h_qk = p.h_qk;
        t.h_v = p.h_v;
        t.scale = static_cast<float>(p.effective_scale());
        ua.qkv_dtype = p.qkv_dtype;
        ua.gate_dtype = p.gate_dtype;
        ua.beta_dtype = p.beta_dtype;
        unfused_forward(ua, im.unfused, ws + im.algo_offset, im.algo_bytes, stream);
        break;
      }
      case Algorithm::kFused:
        launch_fused(im, fused, lists, /*first_of_call=*/!build_lists && !p.l2norm_qk, stream);
        break;
    }
  } catch (const UserError& e) {
    return Status::invalid_argument(e.what());
  } catch (const ApiError& e) {
    return Status::launch_error(e.what());
  }
  return Status::success();
}

std::string call_error_text(int error_word) {
  std::string why;
  const auto add = [&why](const char* sentence) {
    if (!why.empty()) why += "; ";
    why += sentence;
  };
  if (error_word & kCallErrorOffsets)
    add("cu_seqlens is not a valid offset list (cu[0] = 0, non-decreasing, cu[N] <= B*T rows); "
        "nothing was written to o");
  if (error_word & kCallErrorExpansiveKeys)
    add("beta * |k|^2 > 2 at some token: the delta rule's transition I - beta k k^T expands the "
        "state there and the chunked forward's 16-bit operands cannot follow it, so o and the "
        "final "
        "state are not reliable; L2-normalise the keys (or set the problem's l2norm_qk)");
  if (error_word & ~(kCallErrorOffsets | kCallErrorExpansiveKeys))
    add("unknown error bits in the call's error word");
  return why;
}

Status call_status(const Plan& plan, const void* workspace) {
  const Plan::Impl& im = plan.impl();
  if (im.lists.error == WorkListLayout::kNone || workspace == nullptr) return Status::success();
  int error = 0;
  QLA_CUDA_CHECK(cudaMemcpy(&error, static_cast<const char*>(workspace) + im.lists.error,
                            sizeof(int), cudaMemcpyDeviceToHost));
  const std::string why = call_error_text(error);
  return why.empty() ? Status::success() : Status::invalid_argument(why);
}

}  // namespace qla::gdn
