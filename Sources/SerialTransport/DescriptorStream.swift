import Glibc
import Transport

/// The `ByteTransport` over one open descriptor: reads and writes through `PolledDescriptor`, and a close that
/// interrupts pending operations and waits for them before releasing the descriptor.
actor DescriptorStream {
    nonisolated let portDescription: String
    private var descriptor: PolledDescriptor?
    private let release: @Sendable (Int32) -> Void
    private var activeOperations = 0
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []
    private let writeTimeout: Duration

    /// `release` closes the descriptor (after any state it needs to restore).
    init(
        fd: Int32, portDescription: String, writeTimeout: Duration = .seconds(5),
        release: @escaping @Sendable (Int32) -> Void
    ) throws(TransportError) {
        self.descriptor = try PolledDescriptor(fd: fd)
        self.portDescription = portDescription
        self.writeTimeout = writeTimeout
        self.release = release
    }

    var isOpen: Bool { descriptor != nil }

    func send(_ bytes: [UInt8]) async throws {
        guard let descriptor else { throw TransportError(.closed, port: portDescription, sent: bytes) }
        activeOperations += 1
        defer { operationFinished() }
        try await descriptor.write(bytes, timeout: writeTimeout, port: portDescription)
    }

    func receive(maxCount: Int, timeouts: ReceiveTimeouts) async throws -> [UInt8] {
        guard let descriptor else { throw TransportError(.closed, port: portDescription) }
        activeOperations += 1
        defer { operationFinished() }
        return try await descriptor.read(maxCount: maxCount, timeouts: timeouts, port: portDescription)
    }

    /// Bytes waiting to be read on the descriptor (FIONREAD); 0 once closed or when the query fails.
    func pendingInputByteCount() -> Int {
        guard let descriptor else { return 0 }
        var count: Int32 = 0
        guard ioctl(descriptor.fd, UInt(FIONREAD), &count) == 0 else { return 0 }
        return Int(count)
    }

    func close() async {
        guard let descriptor else { return }
        self.descriptor = nil
        descriptor.wake()
        while activeOperations > 0 {
            await withCheckedContinuation { closeWaiters.append($0) }
        }
        descriptor.releasePipe()
        release(descriptor.fd)
    }

    private func operationFinished() {
        activeOperations -= 1
        if activeOperations == 0 {
            let waiters = closeWaiters
            closeWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }
}
