import Transport

/// A serial port as a `ByteTransport`: one descriptor stream, opened and configured by a backend, reopened by
/// `reconnect()`. A hang-up (POLLHUP, EIO, end of file) surfaces as `TransportError` of kind `disconnected`.
public actor SerialPortTransport: ByteTransport {
    public nonisolated let portDescription: String
    public nonisolated let path: String
    public nonisolated let settings: SerialSettings
    /// `termios` or `libserialport`; `automatic` is resolved when the port is opened.
    public nonisolated let backend: SerialBackend
    private var stream: DescriptorStream?

    /// Opens and configures `path`. Throws `TransportError` (`openFailed`, or `busy` when another process holds
    /// the port). `automatic` uses libserialport for ports it lists and termios otherwise (pseudo-terminals).
    public init(path: String, settings: SerialSettings, backend: SerialBackend = .termios) throws {
        self.path = path
        self.settings = settings
        self.portDescription = path
        self.backend =
            backend == .automatic
            ? ((try? listSerialPorts())?.contains { $0.path == path } == true ? .libserialport : .termios)
            : backend
        self.stream = try Self.openStream(path: path, settings: settings, backend: self.backend)
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
        stream = try Self.openStream(path: path, settings: settings, backend: backend)
    }

    private static func openStream(path: String, settings: SerialSettings, backend: SerialBackend) throws
        -> DescriptorStream
    {
        switch backend {
        case .libserialport: try LibSerialPortOpener.openStream(path: path, settings: settings)
        case .termios, .automatic: try TermiosPort.openStream(path: path, settings: settings)
        }
    }
}
