import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One HTTP/1.1 exchange over a real TCP connection: what a browser on this PC would send.
struct TCPExchange {
    var status: Int
    var headers: [String: String]
    var body: String

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func send(_ method: String, port: UInt16, path: String) throws -> TCPExchange {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(descriptor) }
        var wait = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect to port \(port): \(errno)") }
        let request = Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/html\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == request.count else {
            throw Failure(description: "write failed")
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            reply += chunk[0..<count]
        }
        let text = String(decoding: reply, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "no head in \(text)") }
        var lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw Failure(description: "status line in \(text.prefix(100))")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        return TCPExchange(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}

extension DaemonCLITests {
    @Suite("cellrig open: the report on a loopback address with a token, through real TCP requests")
    struct OpenCommandTests {
        @Test("with the token the report (refreshing while the run goes on); without it 403; other methods 405")
        func servesTheReport() async throws {
            let daemon = try DaemonProcess.start(rigFiles: try simAndSlowRigs())
            defer { daemon.stop() }
            let runID = try daemon.startRun(["protocols/ccd-step-symmetric.yaml", "--rig", "slow"])

            let open = Process()
            open.executableURL = TestSupport.productsDirectory.appendingPathComponent("cellrig")
            open.arguments = ["open", "\(runID)", "--refresh", "3", "--for", "5min", "--no-browser", "--json"]
            open.environment = ProcessInfo.processInfo.environment.merging(daemon.environment) { $1 }
            let output = Pipe()
            open.standardOutput = output
            try open.run()
            defer {
                if open.isRunning {
                    kill(open.processIdentifier, SIGKILL)
                    open.waitUntilExit()
                }
            }
            let firstLine = try await TestSupport.onThread { () -> String in
                var bytes: [UInt8] = []
                while true {
                    let byte = output.fileHandleForReading.readData(ofLength: 1)
                    guard let first = byte.first, first != UInt8(ascii: "\n") else { break }
                    bytes.append(first)
                }
                return String(decoding: bytes, as: UTF8.self)
            }
            struct Listing: Decodable {
                var run_id: Int64
                var url: String
            }
            let listing = try JSONDecoder().decode(Listing.self, from: Data(firstLine.utf8))
            #expect(listing.run_id == runID)
            let url = try #require(URL(string: listing.url))
            #expect(url.host == "127.0.0.1")
            let port = try #require(url.port.map(UInt16.init))
            let tokenPath = url.path.hasSuffix("/") ? url.path : url.path + "/"
            #expect(tokenPath.count > 40, "a long random token: \(tokenPath)")

            let page = try await TestSupport.onThread { try TCPExchange.send("GET", port: port, path: tokenPath) }
            #expect(page.status == 200)
            #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
            #expect(page.body.contains("<h1>Run \(runID):"))
            #expect(page.body.contains(#"<meta http-equiv="refresh" content="3">"#), "refreshes while the run goes on")
            #expect(!page.body.contains("<script"))
            #expect(page.headers["content-security-policy"]?.contains("default-src 'none'") == true)

            for path in ["/", "/favicon.ico", "/0123456789abcdef/", tokenPath.replacingOccurrences(of: "a", with: "b")]
            where path != tokenPath {
                let refused = try await TestSupport.onThread { try TCPExchange.send("GET", port: port, path: path) }
                #expect(refused.status == 403, "\(path)")
                #expect(!refused.body.contains("<h1>"), "\(path)")
            }
            let post = try await TestSupport.onThread { try TCPExchange.send("POST", port: port, path: tokenPath) }
            #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD")
            let head = try await TestSupport.onThread { try TCPExchange.send("HEAD", port: port, path: tokenPath) }
            #expect(head.status == 200 && head.body.isEmpty && Int(head.headers["content-length"] ?? "") ?? 0 > 1000)

            // Each request fetches the report again: once the run has ended the page no longer refreshes.
            #expect(try daemon.cellrig(["abort", "\(runID)"]).status == 0)
            let ended = try await TestSupport.onThread { try TCPExchange.send("GET", port: port, path: tokenPath) }
            #expect(ended.status == 200 && ended.body.contains("aborted"))
            #expect(!ended.body.contains("http-equiv=\"refresh\""))

            kill(open.processIdentifier, SIGINT)
            let interrupted = try await TestSupport.eventually(attempts: 600) { !open.isRunning }
            #expect(interrupted, "Ctrl-C ends it, long before --for")
            #expect(open.terminationReason == .uncaughtSignal && open.terminationStatus == SIGINT)
            let gone = try await TestSupport.onThread { () -> Bool in
                (try? TCPExchange.send("GET", port: port, path: tokenPath)) == nil
            }
            #expect(gone, "nothing listens once open has ended")
        }
    }
}
