import Domain
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Hands one notification document to a webhook (an HTTP/1.1 POST over a plain TCP connection) or to a command
/// (the document on its standard input). Blocking: the ``Notifier`` calls it on a thread of its own, never on a
/// run's path.
enum NotificationDelivery {
    /// Why a delivery failed, for the log.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// POSTs `body` as JSON to `webhook`; succeeds on a 2xx answer.
    static func post(_ body: [UInt8], to webhook: NotifySettings.Webhook, timeout_s: Double) throws(Failure) {
        let descriptor = try connect(to: webhook, timeout_s: timeout_s)
        defer { close(descriptor) }
        let hostHeader = webhook.host.contains(":") ? "[\(webhook.host)]" : webhook.host
        let head =
            "POST \(webhook.path) HTTP/1.1\r\nHost: \(hostHeader):\(webhook.port)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\nUser-Agent: cellrigd\r\n"
            + "Connection: close\r\n\r\n"
        try send(Array(head.utf8) + body, on: descriptor)
        let answer = try receiveStatusLine(on: descriptor)
        let parts = answer.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw Failure(description: "the webhook answered something that is not HTTP: \(answer.prefix(80))")
        }
        guard (200..<300).contains(status) else {
            throw Failure(description: "the webhook answered \(answer)")
        }
    }

    private static func connect(to webhook: NotifySettings.Webhook, timeout_s: Double) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let lookup = getaddrinfo(webhook.host, String(webhook.port), &hints, &list)
        guard lookup == 0, let first = list else {
            throw Failure(description: "cannot resolve \(webhook.host): \(String(cString: gai_strerror(lookup)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let descriptor = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard descriptor >= 0 else {
                lastError = String(cString: strerror(errno))
                continue
            }
            var timeout = timeval(
                tv_sec: Int(timeout_s), tv_usec: Int((timeout_s - timeout_s.rounded(.down)) * 1_000_000))
            // On Linux the send timeout bounds connect() too.
            setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if Glibc.connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 {
                return descriptor
            }
            lastError = String(cString: strerror(errno))
            close(descriptor)
        }
        throw Failure(description: "cannot connect to \(webhook.host):\(webhook.port): \(lastError)")
    }

    private static func send(_ bytes: [UInt8], on descriptor: Int32) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { buffer in
                Glibc.send(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "sending to the webhook failed: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Reads until the end of the status line (the rest of the answer does not matter).
    private static func receiveStatusLine(on descriptor: Int32) throws(Failure) -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while !received.contains(UInt8(ascii: "\n")) && received.count < 8192 {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                let why = count == 0 ? "closed the connection" : String(cString: strerror(errno))
                throw Failure(description: "no answer from the webhook: \(why)")
            }
            received += buffer[..<count]
        }
        let line = received.prefix { $0 != UInt8(ascii: "\n") }
        return String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs the command with `body` on its standard input; succeeds when it exits with status 0 within the timeout.
    static func run(_ command: NotifySettings.Command, input body: [UInt8], timeout_s: Double) throws(Failure) {
        let process = Process()
        switch command {
        case .arguments(let arguments):
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
        case .shell(let line):
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", line]
        }
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        let ended = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in ended.signal() }
        do {
            try process.run()
        } catch {
            throw Failure(description: "cannot run the notify command: \(error.localizedDescription)")
        }
        // A command that does not read its input must not block the daemon: a broken pipe is ignored.
        try? input.fileHandleForWriting.write(contentsOf: body)
        try? input.fileHandleForWriting.close()
        guard ended.wait(timeout: .now() + timeout_s) == .success else {
            process.terminate()
            _ = ended.wait(timeout: .now() + 2)
            throw Failure(description: "the notify command did not end within \(timeout_s) s and was stopped")
        }
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw Failure(description: "the notify command failed (status \(process.terminationStatus))")
        }
    }
}
