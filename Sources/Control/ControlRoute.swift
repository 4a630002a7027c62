import Foundation

/// One route of the control API, defined once: the server dispatches on these, the client builds its requests
/// from them, and the OpenAPI test compares them with `docs/openapi.yaml`.
public struct ControlRoute: Sendable, Hashable, CustomStringConvertible {
    /// The HTTP methods the API uses.
    public enum Method: String, Sendable, Hashable, CaseIterable {
        case get = "GET"
        case post = "POST"
        case delete = "DELETE"
    }

    /// What a successful answer carries.
    public enum Reply: String, Sendable, Hashable {
        case json = "application/json"
        case html = "text/html"
        case eventStream = "text/event-stream"
    }

    public let method: Method
    /// The path with `{name}` for each path parameter, as in the OpenAPI document: `/v1/runs/{id}/abort`.
    public let template: String
    public let reply: Reply
    /// The status of a successful answer (200, or 201 for a created run).
    public let success: Int
    /// The error statuses this route may answer, each with an ``ErrorBody``.
    public let errors: [Int]

    init(_ method: Method, _ template: String, reply: Reply = .json, success: Int = 200, errors: [Int] = []) {
        self.method = method
        self.template = template
        self.reply = reply
        self.success = success
        self.errors = errors
    }

    /// Every status the route may answer.
    public var statuses: [Int] { [success] + errors }

    public var description: String { "\(method.rawValue) \(template)" }

    /// The names of the path parameters, in order.
    public var parameterNames: [String] {
        segments.compactMap { $0.hasPrefix("{") && $0.hasSuffix("}") ? String($0.dropFirst().dropLast()) : nil }
    }

    /// The concrete path of a route whose only parameter is a run id.
    public func path(id: Int64, query: [String: String] = [:]) -> String {
        var path = template.replacingOccurrences(of: "{id}", with: String(id))
        if !query.isEmpty {
            path += "?" + query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        }
        return path
    }

    /// The path parameters when `path` (without its query) is this route's, else nil.
    public func match(_ path: String) -> [String: String]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard parts.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            if segment.hasPrefix("{"), segment.hasSuffix("}") {
                guard !part.isEmpty else { return nil }
                parameters[String(segment.dropFirst().dropLast())] = String(part)
            } else if segment != part {
                return nil
            }
        }
        return parameters
    }

    private var segments: [Substring] {
        template.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 }
    }
}

extension ControlRoute {
    /// `GET /v1/health`: the daemon's version and database.
    public static let health = ControlRoute(.get, "/v1/health")
    /// `GET /v1/rigs`: the rigs and what they are doing.
    public static let rigs = ControlRoute(.get, "/v1/rigs")
    /// `GET /v1/runs?limit=&before=`: a page of run summaries, newest first.
    public static let runs = ControlRoute(.get, "/v1/runs", errors: [400, 500])
    /// `POST /v1/runs`: start a protocol on a rig.
    public static let startRun = ControlRoute(.post, "/v1/runs", success: 201, errors: [400, 404, 409, 500, 503])
    /// `GET /v1/runs/{id}`: one run's status.
    public static let status = ControlRoute(.get, "/v1/runs/{id}", errors: [400, 404, 500])
    /// `POST /v1/runs/{id}/abort`: end a run now at open circuit.
    public static let abort = ControlRoute(.post, "/v1/runs/{id}/abort", errors: [400, 404, 409, 500])
    /// `POST /v1/runs/{id}/resume`: continue a paused run.
    public static let resume = ControlRoute(.post, "/v1/runs/{id}/resume", errors: [400, 404, 409, 500])
    /// `GET /v1/runs/{id}/live`: server-sent events until the run ends.
    public static let live = ControlRoute(.get, "/v1/runs/{id}/live", reply: .eventStream, errors: [400, 404, 500])
    /// `GET /v1/runs/{id}/report`: the run's report, one self-contained HTML page.
    public static let report = ControlRoute(.get, "/v1/runs/{id}/report", reply: .html, errors: [400, 404, 500])

    /// `GET /v1/sync`: how far the copy in the lab's central database is behind.
    public static let sync = ControlRoute(.get, "/v1/sync", errors: [500])

    /// Every route the server answers.
    public static let all: [ControlRoute] = [
        health, rigs, runs, startRun, status, abort, resume, live, report, sync, queues, enqueue, dequeue,
        releaseQueue,
    ]

    /// The methods some route answers on `path`; empty when no route has that path.
    public static func methods(on path: String, among routes: [ControlRoute] = all) -> [Method] {
        Method.allCases.filter { method in routes.contains { $0.method == method && $0.match(path) != nil } }
    }

    /// Query parameter of ``report``: refresh the page every so many seconds while the run goes on.
    public static let refreshParameter = "refresh"
    /// The refresh periods ``report`` accepts, in seconds.
    public static let refreshRange = 1...3600
}

/// A request the client can send, typed by its reply: built from a ``ControlRoute``, so no path is spelt twice.
public struct ControlRequest<Reply: Decodable & Sendable>: Sendable {
    public let route: ControlRoute
    public let path: String
    public let body: Data?

    init(_ route: ControlRoute, path: String? = nil, body: Data? = nil) {
        self.route = route
        self.path = path ?? route.template
        self.body = body
    }
}

extension ControlRequest where Reply == HealthInfo {
    public static var health: Self { Self(.health) }
}

extension ControlRequest where Reply == [RigInfo] {
    public static var rigs: Self { Self(.rigs) }
}

extension ControlRequest where Reply == RunStatus {
    public static func start(_ request: StartRunRequest) throws -> Self {
        Self(.startRun, body: try JSONEncoder().encode(request))
    }

    public static func status(_ runID: Int64) -> Self { Self(.status, path: ControlRoute.status.path(id: runID)) }
    public static func abort(_ runID: Int64) -> Self { Self(.abort, path: ControlRoute.abort.path(id: runID)) }
    public static func resume(_ runID: Int64) -> Self { Self(.resume, path: ControlRoute.resume.path(id: runID)) }
}
