import ArgumentParser
import Control
import Domain
import Foundation
import ProtocolFiles

/// `cellrig open RUN`: the run's report in a browser on this PC, through a loopback-only address with a one-time
/// token, fetched again from the daemon at every request.
struct Open: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a run's report in a browser on this PC, refreshed while the run goes on.",
        discussion: """
            The daemon listens only on its Unix socket. open listens on 127.0.0.1 at a port the kernel picks, \
            with a random token in the address, and prints that address (and hands it to xdg-open when there is \
            one). Every request fetches the report from the daemon again (GET /v1/runs/RUN/report); while the run \
            goes on the page reloads itself every --refresh seconds (an HTML meta refresh; the page has no \
            scripts). A request without the token gets 403, a method other than GET or HEAD gets 405. open runs \
            until Ctrl-C, or for --for (e.g. 30s, 10min, 2h).
            """)

    @Argument(help: "Run id.")
    var runID: Int64

    @Option(
        name: .customLong("for"),
        help: ArgumentHelp(
            "Stop serving after this long (e.g. 90s, 10min, 2h); default: until Ctrl-C.", valueName: "duration"))
    var duration: String?

    @Option(help: "Seconds between reloads while the run goes on.")
    var refresh: Int = 10

    @Flag(help: "Do not start a browser (xdg-open); only print the address.")
    var noBrowser = false

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: #"Print JSON: one line {"run_id", "url", "serving_for_s"} once the address is ready."#)
    var json = false

    func validate() throws {
        _ = try servingTime()
        let range = ControlRoute.refreshRange
        guard range.contains(refresh) else {
            throw ValidationError(
                "--refresh \(refresh): give whole seconds from \(range.lowerBound) to \(range.upperBound)")
        }
    }

    func run() throws {
        let client = connection.client
        // The run must exist before anything listens.
        _ = try client.send(.status(runID))
        let servingTime = try servingTime()
        let listener = try LoopbackListener()
        let token = Self.makeToken()
        let url = "http://127.0.0.1:\(listener.port)/\(token)/"
        if json {
            printJSONLine(OpenListing(run_id: runID, url: url, serving_for_s: servingTime.map { $0 / .seconds(1) }))
        } else {
            let until = servingTime.map { "for \(formatDuration($0 / .seconds(1)))" } ?? "until Ctrl-C"
            print("the report of run \(runID): \(url)  (this PC only; served \(until))")
            fflush(nil)
        }
        if !noBrowser { Self.startBrowser(url) }
        Self.letInterruptsEndIt()
        let proxy = ReportProxy(client: client, runID: runID, token: token, refreshSeconds: refresh)
        listener.serve(until: servingTime.map { ContinuousClock.now + $0 }, handle: proxy.answer)
    }

    private func servingTime() throws -> Duration? {
        guard let duration else { return nil }
        let seconds: Double
        if let bare = Double(duration) {
            seconds = bare
        } else {
            do {
                seconds = try Quantity.parse(duration, as: .time).value
            } catch {
                throw ValidationError("--for \(duration): \(error.description), e.g. 90s, 10min or 2h")
            }
        }
        guard seconds > 0, seconds.isFinite else { throw ValidationError("--for \(duration) is not a positive time") }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// Ctrl-C (SIGINT) and SIGTERM end the command even when it was started with them ignored (a shell does that
    /// for background jobs) or blocked (Foundation's `Process` starts children so).
    static func letInterruptsEndIt() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        var interrupts = sigset_t()
        sigemptyset(&interrupts)
        sigaddset(&interrupts, SIGINT)
        sigaddset(&interrupts, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &interrupts, nil)
    }

    /// 32 random bytes as hex, from the system's secure generator.
    static func makeToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            return String(byte >> 4, radix: 16) + String(byte & 0x0F, radix: 16)
        }.joined()
    }

    /// Hands the address to xdg-open when it is on PATH; never fails the command.
    static func startBrowser(_ url: String) {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard
            let opener = path.split(separator: ":").map({ "\($0)/xdg-open" }).first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: opener)
        process.arguments = [url]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
    }
}

/// What `cellrig open --json` prints once its address is ready.
struct OpenListing: Encodable {
    var run_id: Int64
    var url: String
    /// How long the address is served; nil until Ctrl-C.
    var serving_for_s: Double?
}

/// Answers the browser's requests: only GET and HEAD of the token's path, with the report fetched from the daemon.
struct ReportProxy {
    let client: ControlClient
    let runID: Int64
    let token: String
    let refreshSeconds: Int

    /// Headers on every answer: nothing cached, no referrer sent on, no script, style or image from elsewhere.
    static let safetyHeaders = [
        ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"), ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
    ]

    func answer(_ request: LoopbackListener.Request) -> LoopbackListener.Answer {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count >= 2, Self.sameToken(String(segments[1]), token) else {
            return LoopbackListener.plain(
                403, "Forbidden", "this address needs the token `cellrig open` printed\n", headers: Self.safetyHeaders)
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return LoopbackListener.plain(
                405, "Method Not Allowed", "only GET and HEAD\n", headers: [("Allow", "GET, HEAD")] + Self.safetyHeaders
            )
        }
        guard segments.count == 2 || (segments.count == 3 && segments[2].isEmpty) else {
            return LoopbackListener.plain(
                404, "Not Found", "only the report is here: /\(token)/\n", headers: Self.safetyHeaders)
        }
        let path = ControlRoute.report.path(id: runID, query: [ControlRoute.refreshParameter: "\(refreshSeconds)"])
        do {
            let reply = try client.exchange(ControlRoute.report.method.rawValue, path)
            guard reply.status == 200 else {
                return LoopbackListener.plain(
                    502, "Bad Gateway", "cellrigd answered \(reply.status): \(reply.errorMessage)\n",
                    headers: Self.safetyHeaders)
            }
            return LoopbackListener.Answer(
                status: 200, reason: "OK",
                headers: [("Content-Type", reply.headers["content-type"] ?? "text/html; charset=utf-8")]
                    + Self.safetyHeaders, body: reply.body)
        } catch {
            return LoopbackListener.plain(502, "Bad Gateway", "\(error)\n", headers: Self.safetyHeaders)
        }
    }

    /// Compares in time independent of where the texts differ.
    static func sameToken(_ given: String, _ expected: String) -> Bool {
        let (a, b) = (Array(given.utf8), Array(expected.utf8))
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
