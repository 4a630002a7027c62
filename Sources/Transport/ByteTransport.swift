/// A bidirectional byte stream to one instrument: a serial port, a pseudo-terminal, or a script in tests.
///
/// Each transport is an actor that owns its port. A reader may wait in `receive` while another task sends
/// (for example an abort command), so implementations must allow one `send` concurrently with one `receive`.
public protocol ByteTransport: Actor {
    /// Where the bytes go, for messages and instrument identities: a port path, or `scripted`.
    nonisolated var portDescription: String { get }

    /// Writes all of `bytes`, or throws a `TransportError`.
    func send(_ bytes: [UInt8]) async throws

    /// Waits up to `timeouts.reply` for the first byte, then keeps collecting bytes while each next byte
    /// arrives within `timeouts.interByte`, and returns at most `maxCount` bytes (never an empty array).
    ///
    /// Throws a `TransportError` of kind `timeout` when nothing arrived, `disconnected` on hang-up.
    func receive(maxCount: Int, timeouts: ReceiveTimeouts) async throws -> [UInt8]

    /// Releases the port. Later calls throw `TransportError` of kind `closed`.
    func close() async
}

/// How long `ByteTransport.receive` waits: for the first byte of a reply, and between later bytes.
public struct ReceiveTimeouts: Sendable, Hashable {
    /// The longest wait for the first byte.
    public var reply: Duration
    /// The longest gap between two bytes of one chunk; `.zero` returns whatever is already available.
    public var interByte: Duration

    public init(reply: Duration, interByte: Duration = .zero) {
        self.reply = reply
        self.interByte = interByte
    }
}

/// A transport that can tell how many sent bytes the other end has not read yet.
///
/// Simulators running as fast as possible use it to stay in step with the host: they produce the next
/// reading only once the host has read the previous one, so the simulated cell never runs ahead of the driver.
public protocol OutputBacklogReporting: ByteTransport {
    /// Bytes sent but not yet read by the other end.
    func unreadOutputByteCount() async -> Int
    /// Bytes the other end sent that this end has not received yet.
    ///
    /// A simulator running as fast as possible waits for these too before its next reading: a real instrument
    /// acts on a command (an abort) within the interval it arrives in, so the host's command must not wait while
    /// the simulated clock runs on.
    func unreceivedInputByteCount() async -> Int
}
