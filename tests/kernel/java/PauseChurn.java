// A JVM whose pauses the nodepulse tests and the jvm-overhead benchmark cause on purpose.
// Every mode is bounded in time; the harness talks to it through files in DIR.
//
//   churn DIR MS      write DIR/ready, wait for DIR/go, allocate for MS milliseconds (many young
//                     GCs of a few ms, no full GC), write DIR/done, then idle
//   stall DIR MS      warm up a counted loop until C2 compiles it, write DIR/ready, wait for
//                     DIR/go, then run that loop for MS ms of CPU time in one thread while
//                     another asks for a GC: the safepoint cannot be reached until the loop
//                     ends (C2 puts no safepoint poll in a counted int loop), so the JVM sits in
//                     "reaching safepoint" for about MS; write DIR/done, then idle
//   idle DIR          write DIR/ready and idle
//   bench DIR N MS W  N blocks of MS milliseconds of workload W (churn | safepoints); before
//                     block i waits for DIR/go.i, after it writes "ops elapsed_ns cpu_ns
//                     start_ns" to DIR/done.i (cpu_ns: the whole process's CPU time, VM thread
//                     included; start_ns: System.nanoTime(), i.e. CLOCK_MONOTONIC)
//
// Idling always ends after a minute, so a forgotten JVM cannot outlive its test for long.
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

public class PauseChurn {
  static final long IDLE_LIMIT_NS = 60_000_000_000L;
  static volatile Object sink;
  static volatile long longSink;
  static volatile boolean spinning;

  public static void main(String[] args) throws Exception {
    Path dir = Paths.get(args[1]);
    switch (args[0]) {
      case "churn":
        touch(dir.resolve("ready"));
        await(dir.resolve("go"));
        churn(Long.parseLong(args[2]) * 1_000_000L);
        touch(dir.resolve("done"));
        idle();
        break;
      case "stall":
        stall(dir, Long.parseLong(args[2]));
        idle();
        break;
      case "idle":
        touch(dir.resolve("ready"));
        idle();
        break;
      case "bench":
        bench(dir, Integer.parseInt(args[2]), Long.parseLong(args[3]) * 1_000_000L, args[4]);
        break;
      default:
        throw new IllegalArgumentException("unknown mode " + args[0]);
    }
  }

  // Objects live for about 8 MB of allocation: each survives one young GC (so every GC copies
  // a few MB and takes milliseconds) and dies in the survivor space before it could be promoted,
  // so the old generation stays empty and no GC is ever upgraded to a full one.
  static long churn(long durationNs) {
    Object[] ring = new Object[8192];
    long ops = 0;
    long end = System.nanoTime() + durationNs;
    int i = 0;
    while (System.nanoTime() < end) {
      for (int j = 0; j < 256; j++, i++) ring[i & 8191] = new byte[512 + (i & 1023)];
      ops += 256;
    }
    sink = ring;
    return ops;
  }

  // Each Thread.getAllStackTraces() is one safepoint (a thread dump VM operation) and no GC:
  // the densest stream of probe hits a Java program can cause cheaply.
  static long safepoints(long durationNs) {
    long ops = 0;
    long end = System.nanoTime() + durationNs;
    while (System.nanoTime() < end) {
      sink = Thread.getAllStackTraces();
      ops++;
    }
    return ops;
  }

  static long spin(int n) {
    long x = 1;
    for (int i = 0; i < n; i++) x = x * 31 + i;
    return x;
  }

  static void stall(Path dir, long stallMs) throws Exception {
    // Warm-up makes C2 compile spin() (thousands of calls and backedges; the harness runs this
    // mode with -XX:-TieredCompilation -Xbatch, so the compile is done when the threshold is hit).
    long warmEnd = System.nanoTime() + 1_000_000_000L;
    while (System.nanoTime() < warmEnd) longSink += spin(100_000);
    // Calibrate the compiled loop's speed in CPU time, which other load on the machine does not
    // stretch the way it stretches wall time: the stall then lasts at least MS of wall time
    // (longer when the spinner has to share its CPU). The fastest of three runs.
    java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    double nsPerIteration = Double.MAX_VALUE;
    for (int run = 0; run < 3; run++) {
      long t0 = threads.getCurrentThreadCpuTime();
      longSink += spin(100_000_000);
      nsPerIteration = Math.min(nsPerIteration, (threads.getCurrentThreadCpuTime() - t0) / 100_000_000.0);
    }
    long iterations = (long) (stallMs * 1_000_000L / nsPerIteration);
    int n = (int) Math.min(Integer.MAX_VALUE, iterations);
    touch(dir.resolve("ready"));
    await(dir.resolve("go"));

    Thread spinner = new Thread(() -> {
      spinning = true;
      longSink += spin(n);
    });
    long t0 = System.nanoTime();
    spinner.start();
    // On a loaded machine the new thread may start late; the GC must come after it is spinning,
    // or the GC finishes first and only some later safepoint waits for the rest of the loop.
    while (!spinning) Thread.onSpinWait();
    Thread.sleep(100);  // the spinner is inside spin() now
    long t1 = System.nanoTime();
    System.gc();        // needs a safepoint, which waits for spin() to return
    long t2 = System.nanoTime();
    spinner.join();
    System.out.printf("calibrated %.3f ns/iteration; spin(%d) ran %d ms; System.gc() %d ms after it began took %d ms%n",
        nsPerIteration, n, (System.nanoTime() - t0) / 1_000_000, (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);
    touch(dir.resolve("done"));
  }

  static void bench(Path dir, int blocks, long blockNs, String workload) throws Exception {
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    for (int b = 0; b < blocks; b++) {
      await(dir.resolve("go." + b));
      long cpu0 = os.getProcessCpuTime();
      long t0 = System.nanoTime();
      long ops = workload.equals("churn") ? churn(blockNs) : safepoints(blockNs);
      long elapsed = System.nanoTime() - t0;
      long cpu = os.getProcessCpuTime() - cpu0;
      Files.writeString(dir.resolve("done." + b + ".tmp"), ops + " " + elapsed + " " + cpu + " " + t0 + "\n");
      Files.move(dir.resolve("done." + b + ".tmp"), dir.resolve("done." + b));
    }
  }

  // java.io.File.exists(): Files.exists() allocates an exception per miss, and an idle JVM
  // should not allocate its way into a GC.
  static void await(Path path) throws InterruptedException {
    java.io.File file = path.toFile();
    long end = System.nanoTime() + IDLE_LIMIT_NS;
    while (!file.exists()) {
      if (System.nanoTime() > end) System.exit(3);
      Thread.sleep(2);
    }
  }

  static void touch(Path file) throws Exception {
    Files.writeString(file, "");
  }

  static void idle() throws InterruptedException {
    Thread.sleep(IDLE_LIMIT_NS / 1_000_000L);
  }
}
