// A fake /proc tree in a temporary directory, for tests of code that takes a proc_root.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace nodepulse::testing {

class FakeProc {
 public:
  FakeProc() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nodepulse_proc.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = pattern;
    proc_ = root_ / "proc";
    std::filesystem::create_directories(proc_);
  }
  ~FakeProc() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  FakeProc(const FakeProc&) = delete;
  FakeProc& operator=(const FakeProc&) = delete;

  static void write_file(const std::filesystem::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(out) << path;
    out << content;
    ASSERT_TRUE(out) << path;
  }

  // Like the kernel: every argument NUL-terminated; no arguments = an empty file (kernel thread).
  void add_process(pid_t pid, const std::vector<std::string>& args, const std::string& comm,
                   const std::string& cgroup_text = "0::/user.slice\n") {
    const std::filesystem::path dir = proc_ / std::to_string(pid);
    std::filesystem::create_directories(dir);
    std::string cmdline;
    for (const std::string& arg : args) {
      cmdline += arg;
      cmdline.push_back('\0');
    }
    write_file(dir / "cmdline", cmdline);
    write_file(dir / "comm", comm + "\n");
    write_file(dir / "cgroup", cgroup_text);
  }

  void remove_process(pid_t pid) { std::filesystem::remove_all(proc_ / std::to_string(pid)); }

  // A file outside the proc tree (pid files, config files).
  std::filesystem::path write_aside(const std::string& name, const std::string& content) {
    const std::filesystem::path path = root_ / name;
    write_file(path, content);
    return path;
  }

  const std::filesystem::path& root() const { return root_; }
  const std::filesystem::path& proc() const { return proc_; }

 private:
  std::filesystem::path root_;
  std::filesystem::path proc_;
};

}  // namespace nodepulse::testing
