/// One end of an in-process byte pipe: a simulator and a driver talk without a pseudo-terminal.
///
/// Create connected ends with `InMemoryTransport.pair()`. Closing one end is a hang-up for the other.
/// Only one task may wait in `receive` at a time (as with a serial port, one reader per port).
public actor InMemoryTransport: OutputBacklogReporting {
    public nonisolated let portDescription: String
    private weak var peer: InMemoryTransport?
    private var inbox: [UInt8] = []
    private var closed = false
    private var peerClosed = false
    private var waiter: Waiter?
    private var nextWaiterID: UInt64 = 0
    private let clock = ContinuousClock()

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, Never>
        var timer: Task<Void, Never>
    }

    private init(portDescription: String) {
        self.portDescription = portDescription
    }

    /// Two connected ends; keep both alive for as long as they talk.
    public static func pair(
        hostDescription: String = "in-process", instrumentDescription: String = "in-process instrument"
    ) async -> (host: InMemoryTransport, instrument: InMemoryTransport) {
        let host = InMemoryTransport(portDescription: hostDescription)
        let instrument = InMemoryTransport(portDescription: instrumentDescription)
        await host.connect(to: instrument)
        await instrument.connect(to: host)
        return (host, instrument)
    }

    private func connect(to other: InMemoryTransport) {
        peer = other
    }

    public func send(_ bytes: [UInt8]) async throws {
        if closed { throw TransportError(.closed, port: portDescription, sent: bytes) }
        guard let peer, !peerClosed else {
            throw TransportError(.disconnected, port: portDescription, "other end closed", sent: bytes)
        }
        await peer.deliver(bytes)
    }

    public func receive(maxCount: Int, timeouts: ReceiveTimeouts) async throws -> [UInt8] {
        guard waiter == nil else { throw TransportError(.ioFailure, port: portDescription, "concurrent receive") }
        let deadline = clock.now.advanced(by: timeouts.reply)
        while inbox.isEmpty {
            if closed { throw TransportError(.closed, port: portDescription) }
            if peerClosed { throw TransportError(.disconnected, port: portDescription, "other end closed") }
            let remaining = clock.now.duration(to: deadline)
            if remaining <= .zero { throw TransportError(.timeout, port: portDescription, "no reply") }
            await waitForBytes(upTo: remaining)
        }
        var count = inbox.count
        while maxCount > count, timeouts.interByte > .zero, !closed, !peerClosed {
            await waitForBytes(upTo: timeouts.interByte)
            if inbox.count == count { break }
            count = inbox.count
        }
        let chunk = Array(inbox.prefix(maxCount))
        inbox.removeFirst(chunk.count)
        return chunk
    }

    public func close() async {
        guard !closed else { return }
        closed = true
        wake()
        await peer?.peerDidClose()
    }

    public func unreadOutputByteCount() async -> Int {
        await peer?.unreadCount ?? 0
    }

    public func unreceivedInputByteCount() -> Int {
        inbox.count
    }

    private var unreadCount: Int { inbox.count }

    private func deliver(_ bytes: [UInt8]) {
        inbox += bytes
        wake()
    }

    private func peerDidClose() {
        peerClosed = true
        wake()
    }

    private func waitForBytes(upTo timeout: Duration) async {
        nextWaiterID += 1
        let id = nextWaiterID
        await withCheckedContinuation { continuation in
            let timer = Task {
                try? await Task.sleep(for: timeout)
                self.timeOut(id)
            }
            waiter = Waiter(id: id, continuation: continuation, timer: timer)
        }
    }

    private func timeOut(_ id: UInt64) {
        guard let current = waiter, current.id == id else { return }
        waiter = nil
        current.continuation.resume()
    }

    private func wake() {
        guard let current = waiter else { return }
        waiter = nil
        current.timer.cancel()
        current.continuation.resume()
    }
}
