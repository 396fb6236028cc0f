#include "qla/io/problem_files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "qla/error.hpp"
#include "qla/io/npy.hpp"
#include "temp_dir.hpp"

namespace qla::gdn {
namespace {

using test::expect_user_error;
using test::TempDir;

Problem varlen_problem() {
  Problem p;
  p.tokens = 40;
  p.cu_seqlens = {0, 10, 25, 40};
  p.h_qk = 1;
  p.h_v = 2;
  p.k_dim = p.v_dim = 8;
  p.initial_state = true;
  p.scale = 0.25;
  return p;
}

void write_text(const std::filesystem::path& p, const std::string& s) { std::ofstream(p) << s; }

TEST(ProblemJson, RoundTrip) {
  Problem p = varlen_problem();
  p.qkv_dtype = DType::kF16;
  p.l2norm_qk = true;
  p.final_state = false;
  const Problem q = problem_from_json(problem_to_json(p), "mem");
  EXPECT_EQ(q.batch, p.batch);
  EXPECT_EQ(q.tokens, p.tokens);
  EXPECT_EQ(q.cu_seqlens, p.cu_seqlens);
  EXPECT_EQ(q.h_qk, p.h_qk);
  EXPECT_EQ(q.h_v, p.h_v);
  EXPECT_EQ(q.k_dim, p.k_dim);
  EXPECT_EQ(q.v_dim, p.v_dim);
  EXPECT_EQ(q.qkv_dtype, DType::kF16);
  EXPECT_EQ(q.initial_state, true);
  EXPECT_EQ(q.final_state, false);
  EXPECT_EQ(q.l2norm_qk, true);
  ASSERT_TRUE(q.scale);
  EXPECT_EQ(*q.scale, 0.25);
  Problem fixed;
  fixed.batch = 3;
  fixed.tokens = 17;
  GenerateOptions o;
  o.distribution = Distribution::kBench;
  const std::string text = problem_to_json(fixed, &o);
  EXPECT_NE(text.find("\"bench\""), std::string::npos);
  const Problem f = problem_from_json(text, "mem");
  EXPECT_FALSE(f.is_varlen());
  EXPECT_FALSE(f.scale);
  EXPECT_EQ(f.label(), fixed.label());
}

TEST(ProblemJson, MistakesNameTheKey) {
  expect_user_error(
      [] { problem_from_json("{\"batch\": 1, \"tokens\": 8, \"h_qk\": 1}", "p.json"); },
      {"p.json", "h_v", "missing"});
  expect_user_error(
      [] {
        problem_from_json("{\"batch\": 1, \"tokens\": \"8\", \"h_qk\": 1, \"h_v\": 1}", "p.json");
      },
      {"tokens", "integer"});
  expect_user_error(
      [] {
        problem_from_json("{\"batch\": 1, \"tokens\": 8, \"h_qk\": 1, \"h_v\": 1, \"head\": 3}",
                          "p.json");
      },
      {"unknown key", "head"});
  expect_user_error(
      [] {
        problem_from_json("{\"batch\":1,\"tokens\":8,\"h_qk\":1,\"h_v\":1,\"qkv_dtype\":\"int4\"}",
                          "p.json");
      },
      {"qkv_dtype", "int4"});
  expect_user_error([] { problem_from_json("{\"batch\": 1,", "p.json"); },
                    {"p.json", "not valid JSON"});
  expect_user_error([] { problem_from_json("[1, 2]", "p.json"); }, {"p.json", "object"});
}

TEST(ProblemDir, WriteThenReadIsIdentical) {
  TempDir dir;
  const Problem p = varlen_problem();
  GenerateOptions o;
  o.backward = true;
  const ProblemTensors t = generate_inputs(p, o);
  write_problem_dir(dir.path(), p, t, &o);
  ReadOptions r;
  r.backward = true;
  const ProblemDir back = read_problem_dir(dir.path(), r);
  EXPECT_EQ(back.problem.label(), p.label());
  EXPECT_EQ(back.problem.cu_seqlens, p.cu_seqlens);
  EXPECT_EQ(back.tensors.q, t.q);
  EXPECT_EQ(back.tensors.k, t.k);
  EXPECT_EQ(back.tensors.v, t.v);
  EXPECT_EQ(back.tensors.g, t.g);
  EXPECT_EQ(back.tensors.beta, t.beta);
  EXPECT_EQ(*back.tensors.h0, *t.h0);
  EXPECT_EQ(*back.tensors.cu_seqlens, *t.cu_seqlens);
  EXPECT_EQ(*back.tensors.d_o, *t.d_o);
  EXPECT_EQ(*back.tensors.dht, *t.dht);
  // Forward-only reading ignores do/dht.
  EXPECT_FALSE(read_problem_dir(dir.path()).tensors.d_o);
}

TEST(ProblemDir, CuSeqlensFromJsonOrNpy) {
  TempDir dir;
  Problem p = varlen_problem();
  const ProblemTensors t = generate_inputs(p, {});
  write_problem_dir(dir.path(), p, t);
  // Without cu_seqlens.npy, problem.json's list is used.
  std::filesystem::remove(dir / "cu_seqlens.npy");
  EXPECT_EQ(read_problem_dir(dir.path()).problem.cu_seqlens, p.cu_seqlens);
  // Without problem.json's list, cu_seqlens.npy is used.
  Problem no_list = p;
  no_list.cu_seqlens.clear();
  write_text(dir / "problem.json", problem_to_json(no_list));
  write_npy(dir / "cu_seqlens.npy", *t.cu_seqlens);
  EXPECT_EQ(read_problem_dir(dir.path()).problem.cu_seqlens, p.cu_seqlens);
  // Both, disagreeing.
  write_text(dir / "problem.json", problem_to_json(p));
  write_npy(dir / "cu_seqlens.npy", Tensor::from_doubles(DType::kI64, {4}, {0, 10, 26, 40}));
  expect_user_error([&] { read_problem_dir(dir.path()); }, {"cu_seqlens", "differ"});
  // Not ending at T.
  write_npy(dir / "cu_seqlens.npy", Tensor::from_doubles(DType::kI64, {4}, {0, 10, 25, 39}));
  write_text(dir / "problem.json", problem_to_json(no_list));
  expect_user_error([&] { read_problem_dir(dir.path()); }, {"cu_seqlens", "end at"});
  ReadOptions pad;
  pad.allow_padding = true;
  EXPECT_NO_THROW(read_problem_dir(dir.path(), pad));
  // Not starting at 0.
  write_npy(dir / "cu_seqlens.npy", Tensor::from_doubles(DType::kI32, {4}, {2, 10, 25, 40}));
  expect_user_error([&] { read_problem_dir(dir.path()); }, {"cu_seqlens", "start at 0"});
}

TEST(ProblemDir, MissingAndWrongFilesNameTheTensor) {
  TempDir dir;
  const Problem p = varlen_problem();
  GenerateOptions o;
  o.backward = true;
  write_problem_dir(dir.path(), p, generate_inputs(p, o));
  std::filesystem::remove(dir / "beta.npy");
  expect_user_error([&] { read_problem_dir(dir.path()); }, {"beta", "not found"});
  write_npy(dir / "beta.npy", Tensor(DType::kBF16, {1, 40, 2}));
  expect_user_error([&] { read_problem_dir(dir.path()); }, {"beta", "wrong dtype"});
  write_npy(dir / "beta.npy", Tensor(DType::kF32, {1, 40, 2}));
  EXPECT_NO_THROW(read_problem_dir(dir.path()));
  std::filesystem::remove(dir / "do.npy");
  ReadOptions r;
  r.backward = true;
  expect_user_error([&] { read_problem_dir(dir.path(), r); }, {"do", "not found"});
  std::filesystem::remove(dir / "problem.json");
  expect_user_error([&] { read_problem_dir(dir.path()); }, {"problem.json", "not found"});
  expect_user_error([&] { read_problem_dir(dir / "nope"); }, {"nope", "not found"});
}

TEST(StagedDir, UncommittedLeavesNothing) {
  TempDir dir;
  {
    StagedDir staged(dir / "out");
    write_npy(staged.path() / "o.npy", Tensor(DType::kF32, {2}));
    EXPECT_EQ(dir.count_entries(), 1);  // only the hidden staging folder
  }
  EXPECT_EQ(dir.count_entries(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
}

TEST(StagedDir, CommitMovesEveryFile) {
  TempDir dir;
  std::filesystem::create_directory(dir / "out");
  write_text(dir / "out" / "o.npy", "old");
  {
    StagedDir staged(dir / "out" / "");
    write_npy(staged.path() / "o.npy", Tensor(DType::kF32, {2}));
    write_npy(staged.path() / "ht.npy", Tensor(DType::kF32, {3}));
    staged.commit();
  }
  EXPECT_EQ(dir.count_entries(), 1);
  EXPECT_EQ(read_npy(dir / "out" / "o.npy").numel(), 2);
  EXPECT_EQ(read_npy(dir / "out" / "ht.npy").numel(), 3);
  write_text(dir / "file", "x");
  expect_user_error([&] { StagedDir s(dir / "file"); }, {"not a folder"});
}

TEST(StagedDir, AnEarlierRunsFilesNeverStayBesideNewOnes) {
  TempDir dir;
  // A --backward run wrote gradients; the next run writes only o and ht: its folder must not keep
  // dq.
  std::filesystem::create_directory(dir / "out");
  write_npy(dir / "out" / "o.npy", Tensor(DType::kF32, {1}));
  write_npy(dir / "out" / "dq.npy", Tensor(DType::kF32, {1}));
  {
    StagedDir staged(dir / "out");
    write_npy(staged.path() / "o.npy", Tensor(DType::kF32, {4}));
    staged.commit();
  }
  EXPECT_EQ(read_npy(dir / "out" / "o.npy").numel(), 4);
  EXPECT_FALSE(std::filesystem::exists(dir / "out" / "dq.npy"));
  EXPECT_EQ(dir.count_entries(), 1) << "the old folder or the staging folder was left behind";
}

TEST(StagedDir, AFolderWithOtherFilesIsNotReplaced) {
  TempDir dir;
  std::filesystem::create_directory(dir / "mine");
  write_text(dir / "mine" / "notes.txt", "keep me");
  expect_user_error([&] { StagedDir s(dir / "mine"); }, {"notes.txt", "did not write"});
  EXPECT_TRUE(std::filesystem::exists(dir / "mine" / "notes.txt"));
}

TEST(StagedDir, StagingFoldersOfKilledProcessesAreRemoved) {
  TempDir dir;
  // A staging folder whose process is gone (pid 2^22 + 1 is above Linux's pid_max default and never
  // runs).
  const std::filesystem::path stale = dir / ".out.staging.4194305.0";
  std::filesystem::create_directory(stale);
  write_npy(stale / "o.npy", Tensor(DType::kF32, {1}));
  // One of a live process (this one) is left alone.
  const std::filesystem::path live = dir / (".out.staging." + std::to_string(::getpid()) + ".99");
  std::filesystem::create_directory(live);
  { StagedDir staged(dir / "out"); }
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(live));
}

}  // namespace
}  // namespace qla::gdn
