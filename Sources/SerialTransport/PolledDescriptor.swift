import Dispatch
import Glibc
import Transport

/// A non-blocking file descriptor plus a wake-up pipe; blocking waits run on the descriptor's own serial
/// Dispatch queues (which get their own threads), never on the Swift concurrency pool or a width-limited
/// global queue, so a long reply timeout does not starve other tasks or other ports.
struct PolledDescriptor: Sendable {
    let fd: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let readQueue: DispatchQueue
    private let writeQueue: DispatchQueue

    init(fd: Int32) throws(TransportError) {
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            throw TransportError(.ioFailure, port: "", "pipe: \(errnoText())")
        }
        for end in pipeEnds {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        self.fd = fd
        self.wakeRead = pipeEnds[0]
        self.wakeWrite = pipeEnds[1]
        self.readQueue = DispatchQueue(label: "cellrig.serial.read.\(fd)")
        self.writeQueue = DispatchQueue(label: "cellrig.serial.write.\(fd)")
    }

    /// Interrupts a blocked read or write; it then fails with `closed`.
    func wake() {
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWrite, &byte, 1)
    }

    /// Closes the wake-up pipe (the owner closes `fd` itself, since it may need to restore state first).
    func releasePipe() {
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    func read(maxCount: Int, timeouts: ReceiveTimeouts, port: String) async throws -> [UInt8] {
        let outcome = await on(readQueue) { blockingRead(maxCount: maxCount, timeouts: timeouts) }
        switch outcome {
        case .bytes(let bytes): return bytes
        case .failure(let kind, let detail): throw TransportError(kind, port: port, detail)
        }
    }

    func write(_ bytes: [UInt8], timeout: Duration, port: String) async throws {
        let outcome = await on(writeQueue) { blockingWrite(bytes, timeout: timeout) }
        if case .failure(let kind, let detail) = outcome {
            throw TransportError(kind, port: port, detail, sent: bytes)
        }
    }

    private enum Outcome: Sendable {
        case bytes([UInt8])
        case failure(TransportError.Kind, String)
    }

    private func on(_ queue: DispatchQueue, _ work: @escaping @Sendable () -> Outcome) async -> Outcome {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }

    private func blockingRead(maxCount: Int, timeouts: ReceiveTimeouts) -> Outcome {
        let clock = ContinuousClock()
        var collected: [UInt8] = []
        var deadline = clock.now.advanced(by: timeouts.reply)
        var buffer = [UInt8](repeating: 0, count: max(1, maxCount))
        while true {
            let waitMilliseconds = milliseconds(clock.now.duration(to: deadline))
            var fds = [
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, waitMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                return .failure(.ioFailure, "poll: \(errnoText())")
            }
            if fds[1].revents != 0 { return .failure(.closed, "closed while reading") }
            if ready == 0 {
                return collected.isEmpty ? .failure(.timeout, "no reply") : .bytes(collected)
            }
            let events = Int32(fds[0].revents)
            if events & Int32(POLLIN) != 0 {
                let wanted = maxCount - collected.count
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, wanted) }
                if count > 0 {
                    collected += buffer[0..<count]
                    if collected.count >= maxCount { return .bytes(collected) }
                    deadline = clock.now.advanced(by: timeouts.interByte)
                    continue
                }
                if count == 0 { return hangUp(collected, "end of file") }
                if errno == EAGAIN || errno == EINTR { continue }
                if errno == EIO { return hangUp(collected, "EIO") }
                return .failure(.ioFailure, "read: \(errnoText())")
            }
            if events & Int32(POLLHUP | POLLERR | POLLNVAL) != 0 { return hangUp(collected, "hang-up") }
        }
    }

    private func hangUp(_ collected: [UInt8], _ detail: String) -> Outcome {
        collected.isEmpty ? .failure(.disconnected, detail) : .bytes(collected)
    }

    private func blockingWrite(_ bytes: [UInt8], timeout: Duration) -> Outcome {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if count > 0 {
                written += count
                continue
            }
            if count < 0, errno == EIO || errno == EPIPE { return .failure(.disconnected, "write: \(errnoText())") }
            if count < 0, errno != EAGAIN, errno != EINTR { return .failure(.ioFailure, "write: \(errnoText())") }
            var fds = [
                pollfd(fd: fd, events: Int16(POLLOUT), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, milliseconds(clock.now.duration(to: deadline)))
            if ready == 0 { return .failure(.timeout, "write blocked, \(written) of \(bytes.count) bytes sent") }
            if fds[1].revents != 0 { return .failure(.closed, "closed while writing") }
            if Int32(fds[0].revents) & Int32(POLLHUP | POLLERR) != 0 { return .failure(.disconnected, "hang-up") }
        }
        return .bytes([])
    }
}

/// A non-negative poll timeout in milliseconds, rounded up.
func milliseconds(_ duration: Duration) -> Int32 {
    if duration <= .zero { return 0 }
    let (seconds, attoseconds) = duration.components
    let total = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(clamping: total)
}

/// The current errno as text.
func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}
