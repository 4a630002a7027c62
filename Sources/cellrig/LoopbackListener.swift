import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP listener on 127.0.0.1 at a port the kernel picks, reachable only from this machine. It hands each
/// connection's request to a handler, one connection at a time, and writes the handler's answer.
final class LoopbackListener {
    /// What a browser asked: method and target (path and query, as sent).
    struct Request {
        var method: String
        var target: String

        /// The target without its query.
        var path: String { String(target.prefix { $0 != "?" }) }
    }

    /// An answer to write back: status, reason, headers and body (sent unless the request was HEAD).
    struct Answer {
        var status: Int
        var reason: String
        var headers: [(String, String)]
        var body: Data
    }

    /// Largest request head read; a longer one is refused.
    static let maximumHeadSize = 16 * 1024

    private let descriptor: Int32
    let port: UInt16

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw CommandFailure("cannot open a TCP socket: \(Self.lastError())") }
        var reuse: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else {
            let reason = Self.lastError()
            close(descriptor)
            throw CommandFailure("cannot listen on 127.0.0.1: \(reason)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit {
        close(descriptor)
    }

    /// Serves connections until `deadline` (for ever without one); each request goes to `handle`.
    func serve(until deadline: ContinuousClock.Instant?, handle: (Request) -> Answer) {
        while true {
            var timeout: Int32 = -1
            if let deadline {
                let left = deadline - .now
                guard left > .zero else { return }
                timeout = Int32(min(left / .milliseconds(1), 60_000).rounded(.up))
            }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, timeout)
            if ready < 0, errno != EINTR { return }
            guard ready > 0 else { continue }
            let connection = accept(descriptor, nil, nil)
            guard connection >= 0 else { continue }
            answer(connection, handle: handle)
            close(connection)
        }
    }

    private func answer(_ connection: Int32, handle: (Request) -> Answer) {
        // A client that sends nothing does not hold the listener for long.
        var wait = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        guard let head = readHead(connection) else {
            send(Self.plain(400, "Bad Request", "not an HTTP request\n"), to: connection, headOnly: false)
            return
        }
        // Unicode scalars: "\r\n" is one Character, so a Character search would not find the line's end.
        let firstLine = String(String.UnicodeScalarView(head.unicodeScalars.prefix { $0 != "\r" && $0 != "\n" }))
        let requestLine = firstLine.split(separator: " ")
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else {
            send(Self.plain(400, "Bad Request", "not an HTTP/1 request line\n"), to: connection, headOnly: false)
            return
        }
        let request = Request(method: String(requestLine[0]), target: String(requestLine[1]))
        send(handle(request), to: connection, headOnly: request.method == "HEAD")
    }

    /// The request head up to its blank line; nil when the client closed, stalled or sent too much.
    private func readHead(_ connection: Int32) -> String? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while bytes.count < Self.maximumHeadSize {
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return nil }
            bytes += chunk[0..<count]
            if bytes.count >= 4, bytes.indices.dropLast(3).contains(where: { Array(bytes[$0..<$0 + 4]) == end }) {
                return String(decoding: bytes, as: UTF8.self)
            }
        }
        return nil
    }

    private func send(_ answer: Answer, to connection: Int32, headOnly: Bool) {
        var head = "HTTP/1.1 \(answer.status) \(answer.reason)\r\n"
        for (name, value) in answer.headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(answer.body.count)\r\nConnection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if !headOnly { bytes += answer.body }
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a browser that hung up must not end cellrig with SIGPIPE.
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent < 0, errno == EINTR { continue }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    /// A plain-text answer.
    static func plain(_ status: Int, _ reason: String, _ text: String, headers: [(String, String)] = []) -> Answer {
        Answer(
            status: status, reason: reason,
            headers: [("Content-Type", "text/plain; charset=utf-8")] + headers, body: Data(text.utf8))
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
