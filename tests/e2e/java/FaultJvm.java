// The JVM the fault tests and bench/detection hold in long safepoint pauses, again and again.
//
//   FaultJvm DIR TOKEN [HTTP_PORT [ZK_CONNECT ZK_PATH ZK_SESSION_MS]]
//
// TOKEN only marks the command line for the agent's cmdline_contains. Start-up warms a counted
// loop until C2 compiles it (run with -XX:-TieredCompilation -Xbatch
// -XX:-UseCountedLoopSafepoints, so the compiled loop has no safepoint poll) and calibrates its
// speed in CPU time, serves HTTP on 127.0.0.1:HTTP_PORT from Java code (so a pause stops the
// answers, as it would a real service's), optionally holds a ZooKeeper session with an
// ephemeral znode (the Java client, /usr/share/java/zookeeper.jar), then writes DIR/ready.
// For each DIR/go.N (N = 0, 1, ...; the file holds a duration MS) it runs the loop for about
// MS ms of CPU time in one thread while another asks for a GC: the safepoint waits for the loop,
// so the whole JVM sits in "reaching safepoint" for about MS; then it writes DIR/done.N.
// It exits after ten minutes without a new request.
import java.io.File;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

public class FaultJvm {
  static final long IDLE_LIMIT_NS = 600_000_000_000L;
  static volatile long longSink;
  static volatile boolean spinning;

  public static void main(String[] args) throws Exception {
    Path dir = Paths.get(args[0]);
    double nsPerIteration = warmUpAndCalibrate();
    if (args.length > 2) startHttp(Integer.parseInt(args[2]));
    if (args.length > 5) keepZooKeeperSession(args[3], args[4], Integer.parseInt(args[5]));
    Files.writeString(dir.resolve("ready"), String.format("%.3f ns/iteration%n", nsPerIteration));
    for (int n = 0;; n++) {
      File go = dir.resolve("go." + n).toFile();
      long end = System.nanoTime() + IDLE_LIMIT_NS;
      while (!go.exists()) {
        if (System.nanoTime() > end) System.exit(3);
        Thread.sleep(2);
      }
      long stallMs = Long.parseLong(Files.readString(go.toPath()).trim());
      long took = stall((int) Math.min(Integer.MAX_VALUE, (long) (stallMs * 1_000_000L / nsPerIteration)));
      Files.writeString(dir.resolve("done." + n + ".tmp"), took + "\n");
      Files.move(dir.resolve("done." + n + ".tmp"), dir.resolve("done." + n));
    }
  }

  static long spin(int n) {
    long x = 1;
    for (int i = 0; i < n; i++) x = x * 31 + i;
    return x;
  }

  static double warmUpAndCalibrate() {
    long warmEnd = System.nanoTime() + 1_000_000_000L;
    while (System.nanoTime() < warmEnd) longSink += spin(100_000);
    java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    double nsPerIteration = Double.MAX_VALUE;
    for (int run = 0; run < 3; run++) {
      long t0 = threads.getCurrentThreadCpuTime();
      longSink += spin(100_000_000);
      nsPerIteration = Math.min(nsPerIteration, (threads.getCurrentThreadCpuTime() - t0) / 100_000_000.0);
    }
    return nsPerIteration;
  }

  // Returns the System.gc() call's duration in ms: about the time to safepoint.
  static long stall(int iterations) throws InterruptedException {
    spinning = false;
    Thread spinner = new Thread(() -> {
      spinning = true;
      longSink += spin(iterations);
    });
    spinner.start();
    while (!spinning) Thread.onSpinWait();
    Thread.sleep(50);  // the spinner is inside spin() now
    long t1 = System.nanoTime();
    System.gc();  // needs a safepoint, which waits for spin() to return
    long took = (System.nanoTime() - t1) / 1_000_000;
    spinner.join();
    return took;
  }

  static void startHttp(int port) throws Exception {
    ServerSocket server = new ServerSocket(port, 64, InetAddress.getLoopbackAddress());
    Thread thread = new Thread(() -> {
      byte[] buffer = new byte[1024];
      byte[] answer = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n".getBytes(StandardCharsets.US_ASCII);
      for (;;) {
        try (Socket socket = server.accept()) {
          socket.setSoTimeout(200);
          InputStream in = socket.getInputStream();
          try {
            in.read(buffer);
          } catch (java.net.SocketTimeoutException ignored) {
          }
          OutputStream out = socket.getOutputStream();
          out.write(answer);
          out.flush();
        } catch (Exception ignored) {
        }
      }
    });
    thread.setDaemon(true);
    thread.start();
  }

  // Holds a session with the ephemeral znode; a daemon thread starts a new one when a long
  // pause got the old one expired, as a service that registers itself would.
  static void keepZooKeeperSession(String connect, String path, int sessionMs) throws Exception {
    org.apache.zookeeper.ZooKeeper first = holdZooKeeperSession(connect, path, sessionMs);
    Thread keeper = new Thread(() -> {
      org.apache.zookeeper.ZooKeeper zk = first;
      for (;;) {
        try {
          Thread.sleep(100);
          if (!zk.getState().isAlive()) {
            zk.close();
            zk = holdZooKeeperSession(connect, path, sessionMs);
          }
        } catch (Exception ignored) {
        }
      }
    });
    keeper.setDaemon(true);
    keeper.start();
  }

  static org.apache.zookeeper.ZooKeeper holdZooKeeperSession(String connect, String path, int sessionMs) throws Exception {
    org.apache.zookeeper.ZooKeeper zk = new org.apache.zookeeper.ZooKeeper(connect, sessionMs, event -> {});
    long end = System.nanoTime() + 10_000_000_000L;
    while (zk.getState() != org.apache.zookeeper.ZooKeeper.States.CONNECTED) {
      if (System.nanoTime() > end) throw new IllegalStateException("no ZooKeeper session");
      Thread.sleep(10);
    }
    for (int slash = path.indexOf('/', 1); slash >= 0; slash = path.indexOf('/', slash + 1)) {
      try {
        zk.create(path.substring(0, slash), new byte[0], org.apache.zookeeper.ZooDefs.Ids.OPEN_ACL_UNSAFE,
            org.apache.zookeeper.CreateMode.PERSISTENT);
      } catch (org.apache.zookeeper.KeeperException.NodeExistsException ignored) {
      }
    }
    zk.create(path, "alive".getBytes(StandardCharsets.US_ASCII), org.apache.zookeeper.ZooDefs.Ids.OPEN_ACL_UNSAFE,
        org.apache.zookeeper.CreateMode.EPHEMERAL);
    return zk;
  }
}
