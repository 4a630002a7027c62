import Control
import ControlServer
import Foundation
import Logging
import ServiceLifecycle
import TestSupport
import Testing

@Suite("Server-sent event parsing")
struct ServerSentEventParserTests {
    let stream =
        serverSentEvent(name: "progress", data: "{\"a\":1}") + ": keep-alive\n\n"
        + serverSentEvent(name: "end", data: "line one\nline two")

    @Test("events survive being split at every byte offset")
    func splitAnywhere() {
        let bytes = Array(stream.utf8)
        for split in 0...bytes.count {
            var parser = ServerSentEventParser()
            let events = parser.feed(Array(bytes[..<split])) + parser.feed(Array(bytes[split...]))
            #expect(events.map(\.name) == ["progress", "end"], "split at \(split)")
            #expect(events.last?.data == "line one\nline two")
        }
    }

    @Test("byte-by-byte feeding gives the same events, CRLF line ends too")
    func dripFeed() {
        let crlf = stream.replacingOccurrences(of: "\n", with: "\r\n")
        var parser = ServerSentEventParser()
        var events: [(name: String, data: String)] = []
        for byte in crlf.utf8 { events += parser.feed([byte]) }
        #expect(events.map(\.name) == ["progress", "end"])
        #expect(events.first?.data == "{\"a\":1}")
    }
}

/// A backend with canned answers, to test the server and the client over a real Unix socket.
struct CannedBackend: ControlBackend {
    func health() async -> HealthInfo { HealthInfo(version: "test", database: "/tmp/x.sqlite", rigs: 1) }

    func rigs() async -> [RigInfo] {
        [
            RigInfo(
                id: "sim", name: "Simulated", galvanostat: "simulated", metal: "K", electrolyte: "K-BASE",
                electrode_area_cm2: 0.196, busy: false, run_id: nil)
        ]
    }

    func runs(limit: Int, before: Int64?) async throws -> RunPage { RunPage(runs: [], next_before: nil) }

    func startRun(_ request: StartRunRequest) async throws -> RunStatus {
        guard request.rig == "sim" else { throw ControlFailure.notFound("no rig '\(request.rig)'") }
        return Self.status(id: 1, state: "running")
    }

    func status(runID: Int64) async throws -> RunStatus {
        guard runID == 1 else { throw ControlFailure.notFound("no run \(runID)") }
        return Self.status(id: 1, state: "running")
    }

    func abort(runID: Int64) async throws -> RunStatus { throw ControlFailure.conflict("run \(runID) is not running") }

    func resume(runID: Int64) async throws -> RunStatus { throw ControlFailure.conflict("run \(runID) is not paused") }

    func live(runID: Int64) async throws -> AsyncStream<LiveMessage> {
        guard runID == 1 else { throw ControlFailure.notFound("no run \(runID)") }
        return AsyncStream { continuation in
            Task {
                for index in 0..<50 {
                    continuation.yield(
                        .progress(
                            RunProgress(
                                run_id: 1, step: index, steps: 50, cycle: index / 2, kind: "plate",
                                current_density_mA_cm2: 1, current_A: -1e-3, voltage_V: -0.1, voltage_we_re_V: nil,
                                time_s: Double(index), samples: index, fraction_done: Double(index) / 50)))
                }
                continuation.yield(.end(Self.status(id: 1, state: "stopped")))
                continuation.finish()
            }
        }
    }

    func report(runID: Int64, refreshSeconds: Int?) async throws -> String {
        guard runID == 1 else { throw ControlFailure.notFound("no run \(runID)") }
        let refresh = refreshSeconds.map { "<meta http-equiv=\"refresh\" content=\"\($0)\">" } ?? ""
        return "<!DOCTYPE html><html><head>\(refresh)</head><body><h1>Run 1</h1></body></html>"
    }

    static func status(id: Int64, state: String) -> RunStatus {
        RunStatus(
            id: id, state: state, protocol_name: "p", protocol_file: "p.yaml", protocol_sha256: "00", rig: "sim",
            cell_label: nil, area_cm2: 0.196, created_at: "now", ended_at: nil, reason: nil,
            ccd_mA_cm2: state == "stopped" ? 4.8 : nil, samples: 0, planned_steps: 2, progress: nil, verdicts: [],
            truth: nil)
    }
}

@Suite("Control server and client over a Unix socket")
struct ControlServerTests {
    /// Starts the server on a fresh socket, runs `body` with a client, then stops the server.
    func withServer(_ body: @escaping @Sendable (ControlClient, String) throws -> Void) async throws {
        let directory = try TestSupport.scratchDirectory()
        let socketPath = directory.appendingPathComponent("c.sock").path
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        let application = ControlServer.application(
            backend: CannedBackend(), socketPath: socketPath, logger: Logger(label: "test"),
            onReady: { readyContinuation.yield() })
        let server = Task { try await application.run() }
        for await _ in ready { break }
        defer { server.cancel() }
        try await TestSupport.onThread { try body(ControlClient(socketPath: socketPath), socketPath) }
    }

    @Test("GET /v1/rigs answers JSON the client decodes")
    func rigs() async throws {
        try await withServer { client, _ in
            let rigs = try client.request("GET", "/v1/rigs", as: [RigInfo].self)
            #expect(rigs.map(\.id) == ["sim"])
        }
    }

    @Test("the socket is only for owner and group")
    func socketMode() async throws {
        try await withServer { _, socketPath in
            let attributes = try FileManager.default.attributesOfItem(atPath: socketPath)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o660)
        }
    }

    @Test("errors come back with their status and message")
    func errors() async throws {
        try await withServer { client, _ in
            do {
                _ = try client.request("GET", "/v1/runs/99", as: RunStatus.self)
                Issue.record("a missing run must be an error")
            } catch ControlClientError.daemon(let status, let message) {
                #expect(status == 404)
                #expect(message == "no run 99")
            }
            do {
                _ = try client.request("GET", "/v1/runs/abc", as: RunStatus.self)
                Issue.record("a malformed id must be an error")
            } catch ControlClientError.daemon(let status, let message) {
                #expect(status == 400)
                #expect(message.contains("abc"))
            }
            do {
                let request = StartRunRequest(protocol_file: "p", protocol_text: "x", rig: "nope")
                _ = try client.request("POST", "/v1/runs", body: request, as: RunStatus.self)
                Issue.record("an unknown rig must be an error")
            } catch ControlClientError.daemon(let status, _) {
                #expect(status == 404)
            }
        }
    }

    @Test("POST /v1/runs answers 201 with the run's status")
    func start() async throws {
        try await withServer { client, _ in
            let request = StartRunRequest(protocol_file: "p", protocol_text: "x", rig: "sim")
            let status = try client.request("POST", "/v1/runs", body: request, as: RunStatus.self)
            #expect(status.id == 1)
        }
    }

    @Test("the live stream delivers every event in order, then the end")
    func live() async throws {
        try await withServer { client, _ in
            var steps: [Int] = []
            var end: RunStatus?
            try client.stream("/v1/runs/1/live") { event, data in
                if event == LiveEventName.progress {
                    steps.append(try JSONDecoder().decode(RunProgress.self, from: Data(data.utf8)).step)
                } else if event == LiveEventName.end {
                    end = try JSONDecoder().decode(RunStatus.self, from: Data(data.utf8))
                    return false
                }
                return true
            }
            #expect(steps == Array(0..<50))
            #expect(end?.ccd_mA_cm2 == 4.8)
        }
    }

    @Test("every route answers on its own path; other paths get 404 and other methods 405 with Allow, as JSON")
    func dispatch() async throws {
        try await withServer { client, _ in
            for route in ControlRoute.all {
                let reply = try client.exchange(route.method.rawValue, route.path(id: 1))
                #expect(
                    ![404, 405].contains(reply.status) || reply.errorMessage.hasPrefix("no run")
                        || reply.errorMessage.hasPrefix("no queue entry"), "\(route)")
            }
            let unknown = try client.exchange("GET", "/v2/rigs")
            #expect(unknown.status == 404 && unknown.headers["content-type"] == "application/json")
            #expect(unknown.errorMessage.contains("no route GET /v2/rigs"))
            let wrong = try client.exchange("PATCH", "/v1/runs/7/abort")
            #expect(wrong.status == 405 && wrong.headers["allow"] == "POST")
            #expect(wrong.errorMessage.contains("answers POST, not PATCH"))
        }
    }

    @Test("the report route answers HTML and checks its refresh period")
    func report() async throws {
        try await withServer { client, _ in
            let page = try client.exchange("GET", ControlRoute.report.path(id: 1, query: ["refresh": "7"]))
            #expect(page.status == 200 && page.headers["content-type"] == "text/html; charset=utf-8")
            #expect(String(decoding: page.body, as: UTF8.self).contains(#"content="7""#))
            let bad = try client.exchange("GET", ControlRoute.report.path(id: 1, query: ["refresh": "soon"]))
            #expect(bad.status == 400 && bad.errorMessage.contains("refresh=soon"))
            #expect(try client.exchange("GET", ControlRoute.report.path(id: 2)).status == 404)
        }
    }

    @Test("a body that is not a start request is refused in words: which field, what it must be")
    func badBodies() async throws {
        try await withServer { client, _ in
            let cases: [(String, String)] = [
                ("", "the request body is empty"),
                ("{", "the request body is not JSON"),
                ("[1]", "the request body must be an object"),
                (#"{"protocol_text":"x","rig":"sim"}"#, "a start request needs the field 'protocol_file'"),
                (
                    #"{"protocol_file":1,"protocol_text":"x","rig":"sim"}"#,
                    "'protocol_file' in a start request must be text"
                ),
                (#"{"protocol_file":"p","protocol_text":"x","rig":null}"#, "'rig' in a start request is null"),
                (
                    #"{"protocol_file":"p","protocol_text":"x","rig":"sim","parameters":{"i":2}}"#,
                    "'parameters.i' in a start request must be text"
                ),
                (#"{"protocol_file":"p","protocol_text":"x","rig":"sim","area_cm2":"a"}"#, "must be a number"),
            ]
            for (body, expected) in cases {
                let reply = try client.exchange("POST", "/v1/runs", body: Data(body.utf8))
                #expect(reply.status == 400, "\(body)")
                #expect(reply.errorMessage.contains(expected), "\(body): \(reply.errorMessage)")
                #expect(!reply.errorMessage.contains("CodingKeys") && !reply.errorMessage.contains("debugDescription"))
            }
        }
    }

    @Test("a client without a daemon says where it looked")
    func noDaemon() throws {
        let client = ControlClient(socketPath: "/tmp/cellrig-no-such-socket.sock")
        do {
            _ = try client.request("GET", "/v1/rigs", as: [RigInfo].self)
            Issue.record("connecting to a missing socket must fail")
        } catch {
            #expect("\(error)".contains("/tmp/cellrig-no-such-socket.sock"))
            #expect("\(error)".contains("Is the daemon running?"))
        }
    }
}

@Suite("Routes defined once")
struct ControlRouteTests {
    @Test("a route matches its own paths only and fills in its run id")
    func matching() {
        #expect(ControlRoute.abort.match("/v1/runs/12/abort") == ["id": "12"])
        #expect(ControlRoute.abort.match("/v1/runs/12") == nil)
        #expect(ControlRoute.abort.match("/v1/runs//abort") == nil)
        #expect(ControlRoute.status.match("/v1/runs/12/") == nil)
        #expect(ControlRoute.report.path(id: 3, query: ["refresh": "5"]) == "/v1/runs/3/report?refresh=5")
        #expect(ControlRoute.methods(on: "/v1/runs") == [.get, .post])
        #expect(ControlRoute.methods(on: "/v1/runs/4/live") == [.get])
        #expect(ControlRoute.methods(on: "/v1/elsewhere").isEmpty)
        #expect(Set(ControlRoute.all.map(\.description)).count == ControlRoute.all.count, "no route twice")
    }
}
