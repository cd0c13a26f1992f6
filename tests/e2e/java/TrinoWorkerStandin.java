// A stand-in for a Trino worker in the failover test: a small HTTP service (the JDK's own
// com.sun.net.httpserver) that answers like a worker and can be made sick on request.
//
//   java -XX:+UseSerialGC -XX:-TieredCompilation -Xbatch -XX:-UseCountedLoopSafepoints \
//        -cp DIR TrinoWorkerStandin NODE_ID ADDRESS PORT LIFETIME_S [PEERS EXCHANGE_MS]
//
//   GET  /v1/info                 Trino's node info: {"nodeId": ..., "coordinator": false, ...}
//   GET  /v1/statement?work=N&pad=B
//                                 a query-like request: N iterations of arithmetic (a few ms of
//                                 CPU for the default 200000), answered with the node's id and
//                                 B bytes of padding (a result page)
//
// PEERS (comma-separated ADDRESS:PORT) are the other workers: every EXCHANGE_MS this worker
// fetches a 16 KiB page from each, as Trino workers pull exchange data from one another — the
// worker-to-worker traffic a node's agent judges the network by.
//   POST /control/stall?ms=MS     hold the whole JVM in a safepoint for about MS ms (see below)
//   POST /control/allocate?mb=MB  allocate and touch MB MiB outside the heap, 1 MiB a millisecond,
//                                 and keep it (the test moves the JVM into a small memory
//                                 cgroup first, so the kernel's OOM killer ends it)
//
// The stall is PauseChurn's: spin() is a counted int loop that C2 compiles without a safepoint
// poll (Serial GC, -XX:-UseCountedLoopSafepoints), so a System.gc() asked for while another
// thread runs it waits in "reaching safepoint" until the loop ends, and every Java thread —
// the HTTP server's included — stands still meanwhile. spin() is compiled and its speed
// measured in the background at start-up; /control/stall answers 503 until that is done.
//
// The JVM exits by itself after LIFETIME_S seconds, so a forgotten one cannot outlive its test.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;

public class TrinoWorkerStandin {
  static volatile long longSink;
  static volatile boolean spinning;
  static volatile double nsPerIteration = 0;  // 0 until spin() is compiled and measured
  static final List<ByteBuffer> hoard = new ArrayList<>();
  static final long startedMs = System.currentTimeMillis();

  public static void main(String[] args) throws Exception {
    String nodeId = args[0];
    HttpServer server = HttpServer.create(new InetSocketAddress(args[1], Integer.parseInt(args[2])), 256);
    long lifetimeMs = Long.parseLong(args[3]) * 1000L;
    server.setExecutor(Executors.newFixedThreadPool(8));
    server.createContext("/v1/info", exchange -> reply(exchange, 200,
        "{\"nodeId\":\"" + nodeId + "\",\"coordinator\":false,\"starting\":false,\"environment\":\"test\","
            + "\"uptime\":\"" + (System.currentTimeMillis() - startedMs) + "ms\"}"));
    server.createContext("/v1/statement", exchange -> {
      int work = intParameter(exchange, "work", 200_000);
      int pad = Math.max(0, Math.min(1 << 20, intParameter(exchange, "pad", 0)));
      reply(exchange, 200, "{\"node\":\"" + nodeId + "\",\"result\":" + compute(work) + ",\"page\":\""
          + "x".repeat(pad) + "\"}");
    });
    server.createContext("/control/stall", exchange -> {
      if (nsPerIteration == 0) {
        reply(exchange, 503, "{\"error\":\"not calibrated yet\"}");
        return;
      }
      long ms = intParameter(exchange, "ms", 1500);
      reply(exchange, 200, "{\"stalling_ms\":" + ms + "}");
      new Thread(() -> stall(ms)).start();
    });
    server.createContext("/control/allocate", exchange -> {
      int mb = intParameter(exchange, "mb", 256);
      reply(exchange, 200, "{\"allocating_mb\":" + mb + "}");
      new Thread(() -> allocate(mb)).start();
    });
    server.start();
    Thread calibration = new Thread(TrinoWorkerStandin::calibrate);
    calibration.setDaemon(true);
    calibration.start();
    if (args.length >= 6 && !args[4].isEmpty()) {
      long exchangeMs = Long.parseLong(args[5]);
      for (String peer : args[4].split(",")) {
        Thread puller = new Thread(() -> exchange(peer, exchangeMs));
        puller.setDaemon(true);
        puller.start();
      }
    }
    System.out.println("serving " + nodeId + " on " + args[1] + ":" + args[2]);
    Thread.sleep(lifetimeMs);
    System.exit(0);
  }

  // Pulls a page from `peer` every `intervalMs`, one connection each (300 ms to connect, 1 s to
  // read); a peer that does not answer is simply tried again next time.
  static void exchange(String peer, long intervalMs) {
    String[] hostPort = peer.split(":");
    byte[] request = ("GET /v1/statement?work=1000&pad=16384 HTTP/1.0\r\nHost: " + hostPort[0] + "\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII);
    byte[] buffer = new byte[65536];
    while (true) {
      try (java.net.Socket socket = new java.net.Socket()) {
        socket.connect(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])), 300);
        socket.setSoTimeout(1000);
        socket.getOutputStream().write(request);
        java.io.InputStream in = socket.getInputStream();
        while (in.read(buffer) > 0) {
        }
      } catch (IOException e) {
        // the peer is sick or gone: the agents judge that, not this loop
      }
      try {
        Thread.sleep(intervalMs);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  static double compute(int iterations) {
    double x = 0;
    for (int i = 1; i <= iterations; i++) x += Math.sqrt(i) / i;
    return x;
  }

  static long spin(int n) {
    long x = 1;
    for (int i = 0; i < n; i++) x = x * 31 + i;
    return x;
  }

  // Compiles spin() (with -XX:-TieredCompilation -Xbatch the compile is done when the call
  // threshold is crossed), then measures it in CPU time: a stall then lasts at least its MS.
  static void calibrate() {
    long warmEnd = System.nanoTime() + 1_000_000_000L;
    while (System.nanoTime() < warmEnd) longSink += spin(100_000);
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    double best = Double.MAX_VALUE;
    for (int run = 0; run < 3; run++) {
      long t0 = threads.getCurrentThreadCpuTime();
      longSink += spin(50_000_000);
      best = Math.min(best, (threads.getCurrentThreadCpuTime() - t0) / 50_000_000.0);
    }
    nsPerIteration = best;
    System.out.printf("calibrated: %.3f ns per iteration%n", best);
  }

  static void stall(long ms) {
    int n = (int) Math.min(Integer.MAX_VALUE, (long) (ms * 1_000_000L / nsPerIteration));
    spinning = false;
    Thread spinner = new Thread(() -> {
      spinning = true;
      longSink += spin(n);
    });
    long t0 = System.nanoTime();
    spinner.start();
    while (!spinning) Thread.onSpinWait();
    try {
      Thread.sleep(50);  // the spinner is inside spin() now
    } catch (InterruptedException e) {
      return;
    }
    System.gc();  // needs a safepoint, which waits for spin() to return
    System.out.printf("stalled: asked %d ms, spin(%d) and the GC ended %d ms after it began%n", ms, n,
        (System.nanoTime() - t0) / 1_000_000);
  }

  static void allocate(int mb) {
    for (int i = 0; i < mb; i++) {
      ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
      for (int at = 0; at < buffer.capacity(); at += 4096) buffer.put(at, (byte) 1);
      synchronized (hoard) {
        hoard.add(buffer);
      }
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        return;
      }
    }
    System.out.println("allocated " + mb + " MiB and was not killed");
  }

  static int intParameter(HttpExchange exchange, String name, int fallback) {
    String query = exchange.getRequestURI().getQuery();
    if (query == null) return fallback;
    for (String pair : query.split("&")) {
      int eq = pair.indexOf('=');
      if (eq > 0 && pair.substring(0, eq).equals(name)) {
        try {
          return Integer.parseInt(pair.substring(eq + 1));
        } catch (NumberFormatException e) {
          return fallback;
        }
      }
    }
    return fallback;
  }

  static void reply(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }
}
