import Control
import Domain
import Foundation
import TestSupport
import Testing

/// Compares `docs/openapi.yaml` with the routes as the code defines them (``ControlRoute``), with the wire types,
/// and with what a running `cellrigd` answers.
@Suite("docs/openapi.yaml against the routes, the wire types and a running daemon")
struct OpenAPITests {
    let document: OpenAPIDocument

    init() throws {
        document = try OpenAPIDocument()
    }

    @Test("every route is documented with exactly its statuses and media type, and the document has no other")
    func routesMatch() throws {
        var documented: Set<String> = []
        for (path, item) in document.paths {
            for method in item.keys where ["get", "post", "put", "patch", "delete", "head", "options"].contains(method)
            {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        #expect(documented == Set(ControlRoute.all.map(\.description)))
        for route in ControlRoute.all {
            let responses = document.responses(route.method.rawValue, route.template)
            #expect(Set(responses.keys) == Set(route.statuses.map(String.init)), "\(route)")
            let success = try #require(responses[String(route.success)], "\(route)")
            #expect(
                document.bodySchema(success, mediaType: route.reply.rawValue) != nil, "\(route) answers \(route.reply)")
            for status in route.errors {
                let error = try #require(responses[String(status)])
                let schema = try #require(
                    document.bodySchema(error, mediaType: "application/json"), "\(route) \(status)")
                #expect(schema["required"] as? [String] == ["error"], "\(route) \(status) answers an ErrorBody")
                #expect((schema["properties"] as? [String: Any]).map { Array($0.keys) } == ["error"], "\(route)")
            }
            let parameters = ((document.paths[route.template]?["parameters"] as? [[String: Any]]) ?? []).map(
                document.resolve
            ).filter { $0["in"] as? String == "path" }.compactMap { $0["name"] as? String }
            #expect(parameters == route.parameterNames, "\(route)")
        }
    }

    @Test("the fallback answers, the live stream's event names and the enums are the code's")
    func namesMatch() throws {
        let fallback = try #require(document.root["x-fallback-responses"] as? [String: Any])
        #expect(Set(fallback.keys) == ["404", "405"])
        let methodNotAllowed = document.resolve(try #require(fallback["405"] as? [String: Any]))
        #expect((methodNotAllowed["headers"] as? [String: Any])?["Allow"] != nil)

        let live = try #require(document.responses("GET", ControlRoute.live.template)["200"])
        let events = try #require(live["x-events"] as? [String: Any])
        #expect(Set(events.keys) == Set(LiveEventName.all))

        func words(_ schema: String, _ field: String) -> [String] {
            let properties = document.schema(named: schema)["properties"] as? [String: Any]
            return ((properties?[field] as? [String: Any])?["enum"] as? [String]) ?? []
        }
        #expect(words("RunStatus", "state") == RunState.allCases.map(\.rawValue))
        #expect(words("RunProgress", "kind") == StepKind.allCases.map(\.rawValue))
        #expect(words("EventInfo", "kind") == RunEvent.Kind.allCases.map(\.rawValue))
        let actions = VerdictAction.allCases.filter { $0 != .continue }.map(\.rawValue)
        #expect(words("VerdictInfo", "action") == actions)
        #expect(words("EventInfo", "action") == actions)
        #expect(words("TruthInfo", "kind") == GroundTruthEvent.Kind.allCases.map(\.rawValue))
        #expect(words("RigInfo", "metal") == AnodeMetal.allCases.map(\.rawValue))
        let flagged =
            document.schema(named: "RunStatus")["properties"].flatMap { $0 as? [String: Any] }?[
                "flagged_samples"] as? [String: Any]
        let flagNames = (flagged?["propertyNames"] as? [String: Any])?["enum"] as? [String]
        #expect(flagNames == SampleFlags.named.map(\.name))
    }

    /// A value of each wire type with the schema that documents it.
    static var wireTypes: [(schema: String, value: Any)] {
        [
            ("ErrorBody", ErrorBody(error: "x")),
            ("HealthInfo", HealthInfo(version: "1", database: "d", rigs: 1)),
            (
                "RigInfo",
                RigInfo(
                    id: "a", name: "b", galvanostat: "c", metal: "K", electrolyte: "e", electrode_area_cm2: 1,
                    busy: false,
                    run_id: nil)
            ),
            ("StartRunRequest", StartRunRequest(protocol_file: "p", protocol_text: "t", rig: "r")),
            (
                "RunProgress",
                RunProgress(
                    run_id: 1, step: 0, steps: 1, cycle: 0, kind: "rest", current_density_mA_cm2: 0, current_A: 0,
                    voltage_V: 0, voltage_we_re_V: nil, time_s: 0, samples: 0, fraction_done: 0)
            ),
            ("VerdictInfo", VerdictInfo(Verdict(criterion: "c", action: .warn, reason: "r", time_s: 0))),
            ("EventInfo", EventInfo(runID: 1, RunEvent(kind: .fault, time_s: 0, message: "m"))),
            ("TruthInfo", TruthInfo(GroundTruthEvent(kind: .hardShort, time_s: 0, currentDensity_mA_cm2: 1))),
            ("SpectrumInfo", SpectrumInfo(step: 0, cycle: 0, points: [])),
            ("SyncStatusInfo", SyncStatusInfo(configured: false)),
            ("QueueAddRequest", QueueAddRequest(protocol_file: "p", protocol_text: "t", rig: "r")),
            ("QueueReleaseRequest", QueueReleaseRequest(rig: "r")),
            (
                "QueueEntryInfo",
                QueueEntryInfo(
                    id: 1, rig: "r", protocol_name: "p", protocol_file: "f", parameters: [:], cell_label: nil,
                    area_cm2: nil, then: "hold", added_at: "t", state: "waiting", run_id: nil)
            ),
            ("RigQueueInfo", RigQueueInfo(rig: "r", held: false, entries: [])),
            (
                "RunSummary",
                RunSummary(
                    id: 1, state: "running", protocol_name: "p", protocol_file: "f", rig: "r", cell_label: nil,
                    created_at: "t", ended_at: nil, reason: nil, ccd_mA_cm2: nil, samples: 0)
            ),
            ("RunPage", RunPage(runs: [], next_before: nil)),
            (
                "SpectrumFitInfo",
                SpectrumFitInfo(
                    circuit: "R0", interface_element: nil, interface_Ohm_cm2: nil, interface_error_Ohm_cm2: nil,
                    reduced_chi_square: 0, kramers_kronig_consistent: true)
            ),
            (
                "CriticalCurrentInfo",
                RunResultsInfo.CriticalCurrentInfo(
                    current_density_mA_cm2: 1, criterion: "c", onset_time_s: nil, detection_time_s: 0, evidence: [:])
            ),
            (
                "VoidingInfo",
                RunResultsInfo.VoidingInfo(
                    current_density_mA_cm2: 1, stripping_steps: 1, flagged_steps: 0, voided: false)
            ),
            ("RunResultsInfo", RunResultsInfo(ccd: nil, voiding: [])),
            (
                "RunStatus",
                RunStatus(
                    id: 1, state: "running", protocol_name: "p", protocol_file: "f", protocol_sha256: "s", rig: "r",
                    cell_label: nil, area_cm2: 1, created_at: "t", ended_at: nil, reason: nil, ccd_mA_cm2: nil,
                    samples: 0,
                    planned_steps: 1, progress: nil, verdicts: [], truth: nil)
            ),
        ]
    }

    @Test("every field of every wire type is documented, nothing else is, and exactly the non-optional are required")
    func fieldsMatch() throws {
        let schemas = try #require(
            (document.root["components"] as? [String: Any])?["schemas"] as? [String: Any])
        #expect(Set(schemas.keys) == Set(Self.wireTypes.map(\.schema)), "one schema per wire type")
        for (name, value) in Self.wireTypes {
            let schema = document.schema(named: name)
            var fields: Set<String> = []
            var nonOptional: Set<String> = []
            for child in Mirror(reflecting: value).children {
                guard let label = child.label else { continue }
                fields.insert(label)
                if Mirror(reflecting: child.value).displayStyle != .optional { nonOptional.insert(label) }
            }
            let properties = Set(((schema["properties"] as? [String: Any]) ?? [:]).keys)
            #expect(properties == fields, "\(name): documented \(properties.sorted()), the type has \(fields.sorted())")
            let required = Set((schema["required"] as? [String]) ?? [])
            // A start request's and a queue entry's parameters may be left out; they are then {}.
            let expected =
                ["StartRunRequest", "QueueAddRequest"].contains(name)
                ? nonOptional.subtracting(["parameters"]) : nonOptional
            #expect(required == expected, "\(name): required \(required.sorted()), non-optional \(expected.sorted())")
        }
        let minimal = Data(#"{"protocol_file":"p","protocol_text":"t","rig":"r"}"#.utf8)
        #expect(try JSONDecoder().decode(StartRunRequest.self, from: minimal).parameters == [:])
    }

    @Test("a running daemon's answers: every status documented for its route, every body fits its schema")
    func realAnswers() async throws {
        try await TestSupport.onThread { try LiveAPICheck(document: try OpenAPIDocument()).run() }
    }
}

/// Drives a real `cellrigd` through every route and checks each answer against the document.
struct LiveAPICheck {
    let document: OpenAPIDocument

    static func rigFiles() throws -> [String: String] {
        let ohmic = try TestSupport.readRepositoryFile("rigs/sim-ohmic.yaml")
        return [
            "sim.yaml": try TestSupport.readRepositoryFile("rigs/sim.yaml"),
            "slow.yaml": ohmic.replacingOccurrences(of: "speed: max", with: "speed: 3600")
                .replacingOccurrences(of: "id: sim-ohmic", with: "id: slow"),
            "absent.yaml": """
            schema: 1
            id: absent
            cell: {metal: K, electrolyte: K-beta''-alumina, electrode_area: 0.196 cm2}
            limits: {voltage: 5 V, current: 20 mA}
            galvanostat: {driver: keithley2400, port: /dev/cellrig-test-no-such-port}

            """,
        ]
    }

    func run() throws {
        let daemon = try DaemonProcess.start(rigFiles: try Self.rigFiles())
        defer { daemon.stop() }
        let client = ControlClient(socketPath: daemon.socketPath)

        /// Sends a request on `route` and checks the answer's status and body against the document.
        @discardableResult
        func check(_ route: ControlRoute, _ path: String? = nil, body: Data? = nil, expect status: Int) throws -> Data {
            let reply = try client.exchange(route.method.rawValue, path ?? route.template, body: body)
            #expect(reply.status == status, "\(route) \(path ?? ""): \(reply.status) \(reply.errorMessage)")
            let response = try #require(
                document.responses(route.method.rawValue, route.template)[String(reply.status)],
                "\(route) answered \(reply.status), which the document does not list")
            let mediaType = String((reply.headers["content-type"] ?? "").prefix { $0 != ";" })
            let schema = try #require(
                document.bodySchema(response, mediaType: mediaType), "\(route) \(reply.status) as \(mediaType)")
            if mediaType == ControlRoute.Reply.json.rawValue {
                let problems = document.problems(try JSONValue.parse(reply.body), schema)
                #expect(problems.isEmpty, "\(route) \(path ?? "") \(reply.status): \(problems)")
            }
            return reply.body
        }

        /// Follows a live stream to its end, checking each event's data against x-events.
        func follow(_ runID: Int64) throws -> [String: Int] {
            let live = try #require(document.responses("GET", ControlRoute.live.template)["200"])
            let events = try #require(live["x-events"] as? [String: [String: Any]])
            var seen: [String: Int] = [:]
            try client.stream(ControlRoute.live.path(id: runID)) { name, data in
                seen[name, default: 0] += 1
                let schema = try #require(events[name], "event '\(name)' is not documented")
                let problems = document.problems(try JSONValue.parse(Data(data.utf8)), schema)
                #expect(problems.isEmpty, "live '\(name)': \(problems)")
                return name != LiveEventName.end
            }
            return seen
        }

        func start(_ protocolPath: String, rig: String, expect status: Int = 201) throws -> RunStatus? {
            let text =
                protocolPath == "ccd-quick.yaml"
                ? try TestSupport.quickCCDProtocol() : try TestSupport.readRepositoryFile(protocolPath)
            let request = StartRunRequest(protocol_file: protocolPath, protocol_text: text, rig: rig)
            let body = try check(.startRun, body: try JSONEncoder().encode(request), expect: status)
            return status == 201 ? try JSONDecoder().decode(RunStatus.self, from: body) : nil
        }

        try check(.health, expect: 200)
        try check(.rigs, expect: 200)
        try check(.sync, expect: 200)

        // A run a criterion stops, followed live; then a spectrum with its fit.
        let ccd = try #require(try start("ccd-quick.yaml", rig: "sim"))
        let seen = try follow(ccd.id)
        #expect(seen[LiveEventName.event] ?? 0 > 0 && seen[LiveEventName.end] == 1, "\(seen)")
        try check(.status, ControlRoute.status.path(id: ccd.id), expect: 200)
        let eis = try #require(try start("protocols/eis-potentiostatic.yaml", rig: "sim"))
        _ = try follow(eis.id)
        let fitted = try JSONDecoder().decode(
            RunStatus.self, from: try check(.status, ControlRoute.status.path(id: eis.id), expect: 200))
        #expect(fitted.spectra?.first?.fit?.interface_Ohm_cm2 != nil, "the spectrum's fit is in the status")

        // A run still going: progress, a refreshing report, a busy rig, abort, then nothing to abort or resume.
        let slow = try #require(try start("protocols/ccd-step-symmetric.yaml", rig: "slow"))
        _ = try start("protocols/ccd-step-symmetric.yaml", rig: "slow", expect: 409)
        let running = try JSONDecoder().decode(
            RunStatus.self, from: try check(.status, ControlRoute.status.path(id: slow.id), expect: 200))
        #expect(running.progress != nil)
        let page = try check(.report, ControlRoute.report.path(id: slow.id, query: ["refresh": "5"]), expect: 200)
        #expect(String(decoding: page, as: UTF8.self).contains(#"<meta http-equiv="refresh" content="5">"#))
        try check(.abort, ControlRoute.abort.path(id: slow.id), expect: 200)
        try check(.abort, ControlRoute.abort.path(id: slow.id), expect: 409)
        try check(.resume, ControlRoute.resume.path(id: slow.id), expect: 409)
        let ended = try check(.report, ControlRoute.report.path(id: slow.id, query: ["refresh": "5"]), expect: 200)
        #expect(!String(decoding: ended, as: UTF8.self).contains("http-equiv=\"refresh\""), "an ended run's page stays")
        try check(.runs, expect: 200)
        let firstPage = try JSONDecoder().decode(
            RunPage.self, from: try check(.runs, "/v1/runs?limit=1", expect: 200))
        #expect(firstPage.runs.count == 1 && firstPage.next_before == firstPage.runs.first?.id)
        let secondPage = try JSONDecoder().decode(
            RunPage.self, from: try check(.runs, "/v1/runs?limit=1&before=\(firstPage.next_before ?? 1)", expect: 200))
        #expect((secondPage.runs.first?.id ?? .max) < (firstPage.runs.first?.id ?? 0), "an older page")
        try check(.runs, "/v1/runs?limit=0", expect: 400)
        try check(.runs, "/v1/runs?before=x", expect: 400)

        // Refusals.
        _ = try start("protocols/ccd-step-symmetric.yaml", rig: "absent", expect: 503)
        _ = try start("protocols/ccd-step-symmetric.yaml", rig: "no-such-rig", expect: 404)
        let missing = try check(.startRun, body: Data(#"{"protocol_file":"p.yaml","rig":"sim"}"#.utf8), expect: 400)
        let message = try JSONDecoder().decode(ErrorBody.self, from: missing).error
        #expect(message.contains("'protocol_text'") && !message.contains("CodingKeys"), "\(message)")
        let wrongType = try check(
            .startRun, body: Data(#"{"protocol_file":"p","protocol_text":"t","rig":"sim","area_cm2":"big"}"#.utf8),
            expect: 400)
        #expect(try JSONDecoder().decode(ErrorBody.self, from: wrongType).error.contains("'area_cm2'"))
        try check(.startRun, body: Data("not json".utf8), expect: 400)
        try check(.status, "/v1/runs/abc", expect: 400)
        try check(.status, ControlRoute.status.path(id: 999), expect: 404)
        try check(.abort, ControlRoute.abort.path(id: 999), expect: 404)
        try check(.resume, ControlRoute.resume.path(id: 999), expect: 404)
        try check(.live, ControlRoute.live.path(id: 999), expect: 404)
        try check(.report, ControlRoute.report.path(id: 999), expect: 404)
        try check(.report, ControlRoute.report.path(id: ccd.id, query: ["refresh": "0"]), expect: 400)

        // The queue: entries on the slow rig, a refused removal, a hold by an abort and its release.
        try checkQueue { route, path, body, status in try check(route, path, body: body, expect: status) }

        // Paths no route has, and methods a path does not take.
        let errorBody = document.schema(named: "ErrorBody")
        let unknown = try client.exchange("GET", "/v1/nothing-here")
        #expect(unknown.status == 404)
        #expect(document.problems(try JSONValue.parse(unknown.body), errorBody).isEmpty)
        for (method, path, allowed) in [
            ("DELETE", "/v1/runs", "GET, POST"), ("POST", "/v1/health", "GET"), ("PUT", "/v1/runs/1/report", "GET"),
        ] {
            let reply = try client.exchange(method, path)
            #expect(reply.status == 405, "\(method) \(path)")
            #expect(reply.headers["allow"] == allowed, "\(method) \(path)")
            #expect(document.problems(try JSONValue.parse(reply.body), errorBody).isEmpty)
        }
    }
}

extension LiveAPICheck {
    func checkQueue(_ check: (ControlRoute, String?, Data?, Int) throws -> Data) throws {
        let text = try TestSupport.readRepositoryFile("protocols/ccd-step-symmetric.yaml")
        func enqueue(rig: String = "slow", expect status: Int = 201) throws -> QueueEntryInfo? {
            let request = QueueAddRequest(protocol_file: "ccd.yaml", protocol_text: text, rig: rig)
            let body = try check(.enqueue, nil, try JSONEncoder().encode(request), status)
            return status == 201 ? try JSONDecoder().decode(QueueEntryInfo.self, from: body) : nil
        }
        func queue() throws -> RigQueueInfo {
            let body = try check(.queues, "/v1/queue?rig=slow", nil, 200)
            return try #require(try JSONDecoder().decode([RigQueueInfo].self, from: body).first)
        }
        func release(_ rig: String, expect status: Int) throws {
            _ = try check(.releaseQueue, nil, try JSONEncoder().encode(QueueReleaseRequest(rig: rig)), status)
        }
        func waitFor(_ condition: () throws -> Bool) throws -> Bool {
            for _ in 0..<400 {
                if try condition() { return true }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return false
        }
        _ = try check(.queues, nil, nil, 200)
        _ = try check(.queues, "/v1/queue?rig=nowhere", nil, 404)
        let first = try #require(try enqueue())
        let second = try #require(try enqueue())
        let third = try #require(try enqueue())
        let firstRun = try #require(first.run_id, "the idle rig starts the first entry at once")
        _ = try enqueue(rig: "nowhere", expect: 404)
        _ = try check(.enqueue, nil, Data(#"{"protocol_file":"p","rig":"slow"}"#.utf8), 400)
        _ = try check(.dequeue, ControlRoute.dequeue.path(id: first.id), nil, 409)
        _ = try check(.dequeue, ControlRoute.dequeue.path(id: third.id), nil, 200)
        _ = try check(.dequeue, ControlRoute.dequeue.path(id: 999), nil, 404)
        _ = try check(.dequeue, "/v1/queue/abc", nil, 400)
        try release("slow", expect: 409)
        try release("nowhere", expect: 404)
        _ = try check(.releaseQueue, nil, Data("{}".utf8), 400)
        _ = try check(.abort, ControlRoute.abort.path(id: firstRun), nil, 200)
        #expect(try waitFor { try queue().held }, "an aborted run holds the queue")
        try release("slow", expect: 200)
        var secondRun: Int64?
        #expect(
            try waitFor {
                secondRun = try queue().entries.first { $0.id == second.id }?.run_id; return secondRun != nil
            })
        _ = try check(.abort, ControlRoute.abort.path(id: try #require(secondRun)), nil, 200)
    }
}
