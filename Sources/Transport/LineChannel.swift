/// Line-oriented conversation with one instrument over a `ByteTransport`.
///
/// Frames incoming bytes with a `LineFramer`, queues complete lines, and remembers the last request so that
/// every error carries what was sent and what came back. Sending does not wait for a pending read, so an
/// abort command can be written while another task waits for a line.
public actor LineChannel {
    public let transport: any ByteTransport
    /// Appended to every line sent.
    public let outgoingTerminator: [UInt8]
    private var framer: LineFramer
    private var readyOutputs: [LineFramer.Output] = []
    private var lastSent: [UInt8] = []
    private var receivedSinceSend: [UInt8] = []
    private let receivedContextLimit = 512
    private let clock = ContinuousClock()

    public init(transport: any ByteTransport, framing: LineFramer.Configuration, outgoingTerminator: String = "\n") {
        self.transport = transport
        self.framer = LineFramer(framing)
        self.outgoingTerminator = Array(outgoingTerminator.utf8)
    }

    /// The port description of the underlying transport.
    public nonisolated var portDescription: String { transport.portDescription }

    /// Sends `line` followed by the outgoing terminator.
    public func send(line: String) async throws {
        try await send(bytes: Array(line.utf8) + outgoingTerminator)
    }

    /// Sends raw bytes (for control characters such as a SCPI device clear).
    public func send(bytes: [UInt8]) async throws {
        lastSent = bytes
        receivedSinceSend.removeAll(keepingCapacity: true)
        do {
            try await transport.send(bytes)
        } catch let error as TransportError {
            throw error.with(sent: bytes, received: [])
        }
    }

    /// Returns the next complete line, waiting up to `timeout` for it.
    ///
    /// Throws `TransportError` of kind `garbled` or `overlongLine` for a line that is not valid text; the line
    /// is consumed, so the next call continues with the following line.
    public func readLine(timeout: Duration) async throws -> String {
        let deadline = clock.now.advanced(by: timeout)
        while true {
            if !readyOutputs.isEmpty {
                switch readyOutputs.removeFirst() {
                case .line(let text):
                    return text
                case .garbled(let bytes):
                    throw failure(.garbled, "line contains non-text bytes", extra: bytes)
                case .overlong(let bytes):
                    throw failure(
                        .overlongLine, "line longer than \(framer.configuration.maxLineLength) bytes", extra: bytes)
                }
            }
            let remaining = clock.now.duration(to: deadline)
            let chunk: [UInt8]
            do {
                chunk = try await transport.receive(
                    maxCount: 4096, timeouts: ReceiveTimeouts(reply: max(remaining, .zero)))
            } catch let error as TransportError {
                throw error.with(sent: lastSent, received: receivedContext())
            }
            remember(chunk)
            readyOutputs.append(contentsOf: framer.push(chunk))
        }
    }

    /// Reads and discards everything that arrives until the line is quiet for `quietPeriod`; forgets queued
    /// lines and any partial line. Returns the discarded bytes. Used to resynchronise after a fault.
    @discardableResult
    public func drain(quietPeriod: Duration) async throws -> [UInt8] {
        var discarded = framer.pendingBytes
        readyOutputs.removeAll()
        framer.reset()
        while true {
            do {
                discarded += try await transport.receive(
                    maxCount: 4096, timeouts: ReceiveTimeouts(reply: quietPeriod, interByte: quietPeriod))
            } catch let error as TransportError where error.kind == .timeout {
                return discarded
            }
        }
    }

    /// Forgets queued lines and any partial line without reading.
    public func discardBuffered() {
        readyOutputs.removeAll()
        framer.reset()
    }

    /// Closes the transport.
    public func close() async {
        await transport.close()
    }

    private func remember(_ chunk: [UInt8]) {
        receivedSinceSend += chunk
        if receivedSinceSend.count > receivedContextLimit {
            receivedSinceSend.removeFirst(receivedSinceSend.count - receivedContextLimit)
        }
    }

    private func receivedContext() -> [UInt8] {
        receivedSinceSend.isEmpty ? framer.pendingBytes : receivedSinceSend
    }

    private func failure(_ kind: TransportError.Kind, _ detail: String, extra: [UInt8]) -> TransportError {
        TransportError(
            kind, port: transport.portDescription, detail + ": \"\(ByteText.escaped(extra))\"", sent: lastSent,
            received: receivedContext())
    }
}
