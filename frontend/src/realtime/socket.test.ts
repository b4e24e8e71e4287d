// @vitest-environment node
import { FakeSocket } from "../test/fakes";
import { RealtimeSocket } from "./socket";

describe("RealtimeSocket", () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  function make(stillSignedIn = async () => true) {
    const socket = new RealtimeSocket("ws://gateway.test/ws", {
      createSocket: (url) => new FakeSocket(url),
      backoff: { baseMs: 1000, capMs: 4000 },
      stillSignedIn,
    });
    socket.start();
    return socket;
  }

  it("hands frames to listeners", () => {
    const socket = make();
    const frames: unknown[] = [];
    socket.onFrame((f) => frames.push(f));
    FakeSocket.latest().open();
    FakeSocket.latest().push({ type: "message", message: { id: 1 } });
    expect(frames).toEqual([{ type: "message", message: { id: 1 } }]);
    expect(socket.status).toBe("open");
  });

  it("reconnects with growing delays and asks for a resync once it is back", async () => {
    const socket = make();
    const resync = vi.fn();
    socket.onResync(resync);
    FakeSocket.latest().open();
    expect(resync).not.toHaveBeenCalled();

    FakeSocket.latest().drop();
    expect(socket.status).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(1000); // attempt 0: at most 1 s
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.latest().drop(); // the gateway is still down
    await vi.advanceTimersByTimeAsync(999);
    expect(FakeSocket.all).toHaveLength(2); // attempt 1 waits at least 1 s
    await vi.advanceTimersByTimeAsync(1001);
    expect(FakeSocket.all).toHaveLength(3);

    FakeSocket.latest().open();
    expect(socket.status).toBe("open");
    expect(resync).toHaveBeenCalledTimes(1);
  });

  it("stops when the session is gone instead of retrying forever", async () => {
    const socket = make(async () => false);
    FakeSocket.latest().drop(); // refused handshake: never opened
    await vi.advanceTimersByTimeAsync(10_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(socket.status).toBe("closed");
  });

  it("reconnectNow skips the remaining wait", async () => {
    const socket = make();
    FakeSocket.latest().open();
    FakeSocket.latest().drop();
    await vi.advanceTimersByTimeAsync(0);
    socket.reconnectNow();
    expect(FakeSocket.all).toHaveLength(2);
  });
});
