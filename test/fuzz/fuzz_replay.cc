/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xenfront authors
 */

/* Runs a fuzz target over files (and directories of files) without
 * libFuzzer, as an ordinary test: the seed corpus and every input a fuzzer
 * ever found, replayed in the normal and the sanitizer builds. An input
 * that breaks an invariant aborts, and the test fails. */

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace
{

unsigned run_file(const std::filesystem::path &path)
{
	std::ifstream f(path, std::ios::binary);
	std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)),
				  std::istreambuf_iterator<char>());
	LLVMFuzzerTestOneInput(data.data(), data.size());
	return 1;
}

} // namespace

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize != nullptr)
		LLVMFuzzerInitialize(&argc, &argv);
	unsigned inputs = 0;
	for (int i = 1; i < argc; i++) {
		std::filesystem::path p(argv[i]);
		if (std::filesystem::is_directory(p)) {
			for (const auto &e : std::filesystem::directory_iterator(p))
				if (e.is_regular_file())
					inputs += run_file(e.path());
		} else {
			inputs += run_file(p);
		}
	}
	std::printf("%u inputs replayed\n", inputs);
	return inputs > 0 ? 0 : 1;
}
