import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why a control request failed: the daemon is not reachable, or it answered with an error.
public enum ControlClientError: Error, Sendable, CustomStringConvertible {
    case cannotConnect(socket: String, reason: String)
    case connectionLost(socket: String, reason: String)
    case malformedReply(String)
    case daemon(status: Int, message: String)

    public var description: String {
        switch self {
        case .cannotConnect(let socket, let reason):
            "cannot reach cellrigd at \(socket): \(reason). Is the daemon running? "
                + "(start it with `cellrigd`, or give its socket with --socket or CELLRIG_SOCKET)"
        case .connectionLost(let socket, let reason): "connection to cellrigd at \(socket) lost: \(reason)"
        case .malformedReply(let detail): "cellrigd sent a reply that is not HTTP: \(detail)"
        case .daemon(let status, let message): "cellrigd refused (HTTP \(status)): \(message)"
        }
    }
}

/// A minimal, blocking HTTP/1.1 client over a Unix domain socket: what `cellrig` needs to talk to `cellrigd`.
///
/// One request per connection (`Connection: close`); bodies by `Content-Length`, chunked transfer, or until close;
/// server-sent events are delivered one at a time as they arrive.
public struct ControlClient: Sendable {
    public let socketPath: String

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// Sends a typed request and decodes its reply; a non-2xx reply throws with the daemon's message.
    public func send<Reply>(_ request: ControlRequest<Reply>) throws -> Reply {
        let reply = try exchange(request.route.method.rawValue, request.path, body: request.body)
        try Self.check(reply)
        do {
            return try JSONDecoder().decode(Reply.self, from: reply.body)
        } catch {
            throw ControlClientError.malformedReply("cannot decode \(Reply.self): \(error)")
        }
    }

    /// One exchange as it happened: the reply's status, headers (names in lower case) and body, whatever the
    /// status.
    public func exchange(
        _ method: String, _ path: String, body: Data? = nil, contentType: String = "application/json"
    ) throws -> HTTPReply {
        let connection = try open()
        defer { connection.close() }
        try connection.sendRequest(method: method, path: path, body: body, contentType: contentType)
        let head = try connection.readHead()
        let data = method == "HEAD" ? Data() : try connection.readBody(head: head)
        return HTTPReply(status: head.status, headers: head.headers, body: data)
    }

    /// Sends a JSON request and decodes a JSON reply; a non-2xx reply throws with the daemon's message.
    public func request<Reply: Decodable>(
        _ method: String, _ path: String, body: (some Encodable)? = Optional<String>.none, as: Reply.Type
    ) throws -> Reply {
        let data = try requestData(method, path, body: body)
        do {
            return try JSONDecoder().decode(Reply.self, from: data)
        } catch {
            throw ControlClientError.malformedReply("cannot decode \(Reply.self): \(error)")
        }
    }

    /// Sends a request and returns the raw reply body of a 2xx answer.
    public func requestData(_ method: String, _ path: String, body: (some Encodable)? = Optional<String>.none) throws
        -> Data
    {
        let reply = try exchange(method, path, body: try body.map { try JSONEncoder().encode($0) })
        try Self.check(reply)
        return reply.body
    }

    /// Follows a server-sent event stream; `handle` gets each event's name and data and returns false to stop.
    public func stream(_ path: String, handle: (_ event: String, _ data: String) throws -> Bool) throws {
        let connection = try open()
        defer { connection.close() }
        try connection.sendRequest(method: "GET", path: path, body: nil, accept: "text/event-stream")
        let head = try connection.readHead()
        if head.status / 100 != 2 {
            try Self.check(
                HTTPReply(status: head.status, headers: head.headers, body: try connection.readBody(head: head)))
        }
        var parser = ServerSentEventParser()
        var keepGoing = true
        try connection.readBodyIncrementally(head: head) { bytes in
            for event in parser.feed(bytes) where keepGoing {
                keepGoing = try handle(event.name, event.data)
            }
            return keepGoing
        }
    }

    private static func check(_ reply: HTTPReply) throws {
        guard reply.status / 100 == 2 else {
            throw ControlClientError.daemon(status: reply.status, message: reply.errorMessage)
        }
    }

    private func open() throws -> SocketConnection {
        try SocketConnection(path: socketPath)
    }
}

/// A whole HTTP reply: status, headers (names in lower case) and body.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data

    /// The message of an ``ErrorBody``, or the body as text when it is not one.
    public var errorMessage: String {
        (try? JSONDecoder().decode(ErrorBody.self, from: body))?.error ?? String(decoding: body, as: UTF8.self)
    }
}

/// Status and headers of an HTTP reply.
struct ResponseHead {
    var status: Int
    var headers: [String: String]
}

/// One connected Unix stream socket with a read buffer.
final class SocketConnection {
    private let descriptor: Int32
    private let path: String
    private var buffer: [UInt8] = []
    private var closed = false

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else {
            throw ControlClientError.cannotConnect(socket: path, reason: String(cString: strerror(errno)))
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            Glibc.close(descriptor)
            throw ControlClientError.cannotConnect(
                socket: path, reason: "the path is longer than \(capacity - 1) bytes; use a shorter socket path")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
            raw[pathBytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw ControlClientError.cannotConnect(socket: path, reason: reason)
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(descriptor)
    }

    func sendRequest(
        method: String, path requestPath: String, body: Data?, accept: String = "application/json",
        contentType: String = "application/json"
    ) throws {
        var head = "\(method) \(requestPath) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAccept: \(accept)\r\n"
        if let body {
            head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        } else if method != "GET" {
            head += "Content-Length: 0\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw ControlClientError.connectionLost(socket: path, reason: String(cString: strerror(errno)))
            }
            offset += written
        }
    }

    /// Reads more bytes into the buffer; returns false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ControlClientError.connectionLost(socket: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { return false }
            buffer += chunk[0..<count]
            return true
        }
    }

    private func readLine() throws -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill() else { return nil }
        }
    }

    func readHead() throws -> ResponseHead {
        guard let statusLine = try readLine() else {
            throw ControlClientError.connectionLost(socket: path, reason: "closed before replying")
        }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ControlClientError.malformedReply("status line '\(statusLine)'")
        }
        var headers: [String: String] = [:]
        while let line = try readLine(), !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else {
                throw ControlClientError.malformedReply("header line '\(line)'")
            }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = value
        }
        return ResponseHead(status: status, headers: headers)
    }

    func readBody(head: ResponseHead) throws -> Data {
        var body: [UInt8] = []
        try readBodyIncrementally(head: head) { bytes in
            body += bytes
            return true
        }
        return Data(body)
    }

    /// Delivers the body as it arrives; `deliver` returns false to stop reading.
    func readBodyIncrementally(head: ResponseHead, deliver: ([UInt8]) throws -> Bool) throws {
        if head.headers["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                guard let sizeLine = try readLine() else {
                    throw ControlClientError.connectionLost(socket: path, reason: "closed inside a chunked body")
                }
                let sizeText = sizeLine.split(separator: ";").first.map(String.init) ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                    throw ControlClientError.malformedReply("chunk size '\(sizeLine)'")
                }
                if size == 0 {
                    _ = try readLine()
                    return
                }
                while buffer.count < size + 2 {
                    guard try fill() else {
                        throw ControlClientError.connectionLost(socket: path, reason: "closed inside a chunk")
                    }
                }
                let chunk = Array(buffer[..<size])
                buffer.removeSubrange(..<(size + 2))
                guard try deliver(chunk) else { return }
            }
        } else if let lengthText = head.headers["content-length"], let length = Int(lengthText) {
            while buffer.count < length {
                guard try fill() else {
                    throw ControlClientError.connectionLost(socket: path, reason: "closed before the body ended")
                }
            }
            let body = Array(buffer[..<length])
            buffer.removeSubrange(..<length)
            _ = try deliver(body)
        } else {
            while true {
                if !buffer.isEmpty {
                    let bytes = buffer
                    buffer.removeAll()
                    guard try deliver(bytes) else { return }
                }
                guard try fill() else { return }
            }
        }
    }
}

/// Splits a `text/event-stream` byte stream into events (`event:` name, joined `data:` lines).
public struct ServerSentEventParser: Sendable {
    private var pending: [UInt8] = []
    private var name = ""
    private var dataLines: [String] = []

    public init() {}

    /// Feeds bytes and returns the events they complete.
    public mutating func feed(_ bytes: [UInt8]) -> [(name: String, data: String)] {
        pending += bytes
        var events: [(name: String, data: String)] = []
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            var lineBytes = Array(pending[..<newline])
            pending.removeSubrange(...newline)
            if lineBytes.last == UInt8(ascii: "\r") { lineBytes.removeLast() }
            let line = String(decoding: lineBytes, as: UTF8.self)
            if line.isEmpty {
                if !dataLines.isEmpty || !name.isEmpty {
                    events.append((name.isEmpty ? "message" : name, dataLines.joined(separator: "\n")))
                }
                name = ""
                dataLines = []
            } else if line.hasPrefix(":") {
                continue
            } else if let colon = line.firstIndex(of: ":") {
                let field = String(line[..<colon])
                var value = String(line[line.index(after: colon)...])
                if value.hasPrefix(" ") { value.removeFirst() }
                if field == "event" { name = value } else if field == "data" { dataLines.append(value) }
            }
        }
        return events
    }
}

/// Formats one server-sent event.
public func serverSentEvent(name: String, data: String) -> String {
    let lines = data.split(separator: "\n", omittingEmptySubsequences: false).map { "data: \($0)" }
    return "event: \(name)\n" + lines.joined(separator: "\n") + "\n\n"
}
