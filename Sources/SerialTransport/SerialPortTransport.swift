public import Domain
import Transport

/// A serial port as a `ByteTransport`: one descriptor stream, opened and configured by a backend, reopened by
/// `reconnect()`. A hang-up (POLLHUP, EIO, end of file) surfaces as `TransportError` of kind `disconnected`.
public actor SerialPortTransport: ByteTransport {
    public nonisolated let portDescription: String
    /// The device opened: `line.port`.
    public nonisolated let path: String
    /// The line's character format as the rig file gives it; its `port` is the device path opened.
    public nonisolated let line: SerialLineConfiguration
    /// `termios` or `libserialport`; `automatic` is resolved when the port is opened.
    public nonisolated let backend: SerialBackend
    private var stream: DescriptorStream?

    /// Opens `line.port` as a device path and configures it. Throws `TransportError` (`openFailed`, or `busy` when
    /// another process holds the port). `automatic` uses libserialport for ports it lists and termios otherwise
    /// (pseudo-terminals). To open a port named by a `/dev/serial/by-id/...` link or a USB identity, use
    /// ``openSerialPort(_:backend:)``, which resolves it first.
    public init(line: SerialLineConfiguration, backend: SerialBackend = .termios) throws {
        self.path = line.port
        self.line = line
        self.portDescription = line.port
        self.backend =
            backend == .automatic
            ? ((try? listSerialPorts())?.contains { $0.path == line.port } == true ? .libserialport : .termios)
            : backend
        self.stream = try Self.openStream(line: line, backend: self.backend)
    }

    public func send(_ bytes: [UInt8]) async throws {
        guard let stream else { throw TransportError(.closed, port: path, sent: bytes) }
        try await stream.send(bytes)
    }

    public func receive(maxCount: Int, timeouts: ReceiveTimeouts) async throws -> [UInt8] {
        guard let stream else { throw TransportError(.closed, port: path) }
        return try await stream.receive(maxCount: maxCount, timeouts: timeouts)
    }

    public func close() async {
        await stream?.close()
        stream = nil
    }

    /// Closes the port if open and opens the same path again with the same settings.
    public func reconnect() async throws {
        await close()
        stream = try Self.openStream(line: line, backend: backend)
    }

    private static func openStream(line: SerialLineConfiguration, backend: SerialBackend) throws -> DescriptorStream {
        switch backend {
        case .libserialport: try LibSerialPortOpener.openStream(path: line.port, line: line)
        case .termios, .automatic: try TermiosPort.openStream(path: line.port, line: line)
        }
    }
}
