// A stand-in for HotSpot's pause probes, for bench/jvm-overhead: built as a shared library
// named libjvm.so (with -DNP_USDT_LIBRARY) carrying USDT notes with HotSpot's providers and
// names, and as a program that calls it in a loop. The agent finds "libjvm.so" in the
// program's maps and attaches to it exactly as to a JVM, so timing the loop with and without
// the probes attached gives the cost of one probe hit (uprobe trap + BPF program) without a
// JVM's noise. Needs <sys/sdt.h> (systemtap-sdt-dev).
//
//   usdt-loop DIR BLOCKS CALLS   before block i waits for DIR/go.i, then makes CALLS calls of
//                                np_pause() (4 probe hits each: a GC pair inside a safepoint
//                                pair, as in a JVM) and writes "calls elapsed_ns cpu_ns" to
//                                DIR/done.i (cpu_ns: this thread's CPU time, traps included,
//                                time spent preempted by other load excluded)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>
#include <time.h>
#include <unistd.h>

#ifdef NP_USDT_LIBRARY

void np_pause(int full)
{
	DTRACE_PROBE(hs_private, safepoint__begin);
	DTRACE_PROBE1(hotspot, gc__begin, full);
	DTRACE_PROBE(hotspot, gc__end);
	DTRACE_PROBE(hs_private, safepoint__end);
}

#else

void np_pause(int full);

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void await_file(const char *path)
{
	for (int i = 0; i < 60000 && access(path, F_OK) != 0; i++)
		usleep(1000);
}

int main(int argc, char **argv)
{
	char path[4096], tmp[4200];

	if (argc != 4) {
		fprintf(stderr, "usage: %s DIR BLOCKS CALLS\n", argv[0]);
		return 2;
	}
	int blocks = atoi(argv[2]);
	long calls = atol(argv[3]);
	for (int b = 0; b < blocks; b++) {
		snprintf(path, sizeof(path), "%s/go.%d", argv[1], b);
		await_file(path);
		uint64_t t0 = now_ns(CLOCK_MONOTONIC);
		uint64_t cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
		for (long i = 0; i < calls; i++)
			np_pause((int)(i & 1));
		uint64_t cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
		uint64_t elapsed = now_ns(CLOCK_MONOTONIC) - t0;
		snprintf(path, sizeof(path), "%s/done.%d", argv[1], b);
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		FILE *out = fopen(tmp, "w");
		if (!out)
			return 1;
		fprintf(out, "%ld %llu %llu\n", calls, (unsigned long long)elapsed, (unsigned long long)cpu);
		fclose(out);
		rename(tmp, path);
	}
	return 0;
}

#endif
