import Control
import Foundation
import Hummingbird
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A failure the control API reports to its caller with an HTTP status and a message for a person.
public struct ControlFailure: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String

    public init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    public static func badRequest(_ message: String) -> ControlFailure { ControlFailure(status: 400, message) }
    public static func notFound(_ message: String) -> ControlFailure { ControlFailure(status: 404, message) }
    public static func conflict(_ message: String) -> ControlFailure { ControlFailure(status: 409, message) }

    public var description: String { message }
}

/// What the control server asks of the daemon; the daemon implements it, tests may too.
public protocol ControlBackend: Sendable {
    func health() async -> HealthInfo
    func rigs() async -> [RigInfo]
    func runs() async throws -> [RunStatus]
    func startRun(_ request: StartRunRequest) async throws -> RunStatus
    func status(runID: Int64) async throws -> RunStatus
    func abort(runID: Int64) async throws -> RunStatus
    /// Continues a run a guard paused: the step's current is applied again.
    func resume(runID: Int64) async throws -> RunStatus
    /// Live messages of a run; ends after `.end`.
    func live(runID: Int64) async throws -> AsyncStream<LiveMessage>
}

/// Builds the HTTP+JSON control server on a Unix domain socket (`/v1/...`).
public enum ControlServer {
    /// Largest request body accepted (a protocol file plus a little).
    static let maximumBodySize = 1 << 20

    /// The server as a service for a `ServiceGroup`. The socket file gets mode `socketMode` once bound, and
    /// `onReady` runs then (the daemon tells systemd it is ready).
    public static func application(
        backend: any ControlBackend, socketPath: String, socketMode: UInt32 = 0o660, logger: Logger,
        onReady: @escaping @Sendable () async -> Void = {}
    ) -> some ApplicationProtocol {
        let router = Router()
        let group = router.group("v1")
        group.get("health") { _, _ in try json(await backend.health()) }
        group.get("rigs") { _, _ in try json(await backend.rigs()) }
        group.get("runs") { _, _ in try await answer { try await backend.runs() } }
        group.post("runs") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: maximumBodySize)
            return try await answer(status: .created) {
                let start: StartRunRequest
                do {
                    start = try JSONDecoder().decode(StartRunRequest.self, from: Data(body.readableBytesView))
                } catch {
                    throw ControlFailure.badRequest("the request body is not a valid start request: \(error)")
                }
                return try await backend.startRun(start)
            }
        }
        group.get("runs/:id") { _, context in
            try await answer { try await backend.status(runID: try runID(context)) }
        }
        group.post("runs/:id/abort") { _, context in
            try await answer { try await backend.abort(runID: try runID(context)) }
        }
        group.post("runs/:id/resume") { _, context in
            try await answer { try await backend.resume(runID: try runID(context)) }
        }
        group.get("runs/:id/live") { _, context in
            let stream: AsyncStream<LiveMessage>
            do {
                stream = try await backend.live(runID: try runID(context))
            } catch {
                return try failure(error)
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache"
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    for await message in stream {
                        // One message that cannot be encoded never ends the stream: it becomes an `error` event.
                        let text: String
                        do {
                            text = try eventText(message)
                        } catch {
                            text = serverSentEvent(
                                name: LiveEventName.error,
                                data: #"{"error":"a live message could not be encoded"}"#)
                        }
                        try await writer.write(ByteBuffer(string: text))
                    }
                    try await writer.finish(nil)
                })
        }
        addQueueRoutes(to: group, backend: backend)
        return Application(
            router: router, configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: "cellrigd"),
            onServerRunning: { _ in
                chmod(socketPath, mode_t(socketMode))
                await onReady()
            }, logger: logger)
    }

    private static func runID(_ context: BasicRequestContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text) else {
            throw ControlFailure.badRequest("'\(context.parameters.get("id") ?? "")' is not a run id (a whole number)")
        }
        return id
    }

    static func answer<T: Encodable & Sendable>(
        status: HTTPResponse.Status = .ok, _ body: () async throws -> T
    ) async throws -> Response {
        do {
            return try json(try await body(), status: status)
        } catch {
            return try failure(error)
        }
    }

    private static func failure(_ error: any Error) throws -> Response {
        let failure = error as? ControlFailure ?? ControlFailure(status: 500, "internal error: \(error)")
        return try json(ErrorBody(error: failure.message), status: HTTPResponse.Status(code: failure.status))
    }

    private static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func eventText(_ message: LiveMessage) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        switch message {
        case .progress(let progress):
            return serverSentEvent(
                name: LiveEventName.progress, data: String(decoding: try encoder.encode(progress), as: UTF8.self))
        case .event(let event):
            return serverSentEvent(
                name: LiveEventName.event, data: String(decoding: try encoder.encode(event), as: UTF8.self))
        case .end(let status):
            return serverSentEvent(
                name: LiveEventName.end, data: String(decoding: try encoder.encode(status), as: UTF8.self))
        case .disconnected(let reason):
            return serverSentEvent(
                name: LiveEventName.disconnected,
                data: String(decoding: try encoder.encode(ErrorBody(error: reason)), as: UTF8.self))
        }
    }
}
