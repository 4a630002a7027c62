import Glibc
import Transport

/// A pseudo-terminal pair whose master side is a `ByteTransport`: the instrument end of a simulated port.
///
/// The slave side is put in raw mode before its path is handed out, and a slave descriptor is kept open so the
/// master never sees a hang-up while no host is attached. A driver opens `slavePath` with `SerialPortTransport`.
/// Closing the pseudo-terminal hangs up on the host, like an unplugged USB instrument.
public actor PseudoTerminal: OutputBacklogReporting {
    /// The path a driver opens, e.g. `/dev/pts/3`.
    public nonisolated let slavePath: String
    public nonisolated let portDescription: String
    private let stream: DescriptorStream
    private var slaveKeepAlive: Int32

    public init() throws {
        var master: Int32 = -1
        var slave: Int32 = -1
        guard openpty(&master, &slave, nil, nil, nil) == 0 else {
            throw TransportError(.openFailed, port: "pty", "openpty: \(errnoText())")
        }
        var nameBuffer = [CChar](repeating: 0, count: 256)
        guard ttyname_r(slave, &nameBuffer, nameBuffer.count) == 0 else {
            Glibc.close(master)
            Glibc.close(slave)
            throw TransportError(.openFailed, port: "pty", "ttyname_r failed")
        }
        let path = String(decoding: nameBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var options = termios()
        tcgetattr(slave, &options)
        cfmakeraw(&options)
        tcsetattr(slave, TCSANOW, &options)
        let flags = fcntl(master, F_GETFL)
        _ = fcntl(master, F_SETFL, flags | O_NONBLOCK)
        _ = fcntl(master, F_SETFD, FD_CLOEXEC)
        _ = fcntl(slave, F_SETFD, FD_CLOEXEC)
        self.slavePath = path
        self.portDescription = "pty master of \(path)"
        self.slaveKeepAlive = slave
        // Writes wait as long as the host needs (backpressure); close() still interrupts them.
        self.stream = try DescriptorStream(
            fd: master, portDescription: "pty master of \(path)", writeTimeout: .seconds(86_400)
        ) { Glibc.close($0) }
    }

    public func send(_ bytes: [UInt8]) async throws {
        try await stream.send(bytes)
    }

    public func receive(maxCount: Int, timeouts: ReceiveTimeouts) async throws -> [UInt8] {
        try await stream.receive(maxCount: maxCount, timeouts: timeouts)
    }

    /// Bytes the instrument side sent that the host has not read yet (FIONREAD on the slave).
    public func unreadOutputByteCount() -> Int {
        guard slaveKeepAlive >= 0 else { return 0 }
        var count: Int32 = 0
        guard ioctl(slaveKeepAlive, UInt(FIONREAD), &count) == 0 else { return 0 }
        return Int(count)
    }

    /// Bytes the host wrote that the instrument side has not received yet (FIONREAD on the master).
    public func unreceivedInputByteCount() async -> Int {
        await stream.pendingInputByteCount()
    }

    /// Closes both sides: the host sees a hang-up and the slave path disappears.
    public func close() async {
        await stream.close()
        if slaveKeepAlive >= 0 {
            Glibc.close(slaveKeepAlive)
            slaveKeepAlive = -1
        }
    }
}
