import Control
import Foundation
import Hummingbird

extension ControlBackend {
    /// A backend without queues.
    public func queues(rig: String?) async throws -> [RigQueueInfo] { [] }

    public func enqueue(_ request: QueueAddRequest) async throws -> QueueEntryInfo {
        throw ControlFailure.notFound("this daemon keeps no queues")
    }

    public func dequeue(entryID: Int64) async throws -> QueueEntryInfo {
        throw ControlFailure.notFound("no queue entry \(entryID)")
    }

    public func releaseQueue(rig: String) async throws -> RigQueueInfo {
        throw ControlFailure.notFound("this daemon keeps no queues")
    }
}

extension ControlServer {
    /// The handlers of the queue's routes: `GET /v1/queue[?rig=R]`, `POST /v1/queue`, `DELETE /v1/queue/{id}`,
    /// `POST /v1/queue/release`.
    static func queueHandlers(_ backend: any ControlBackend) -> [ControlRoute: ControlResponder.Handler] {
        [
            .queues: { call in
                let rig = call.request.uri.queryParameters.get(ControlRoute.rigParameter)
                return try ControlResponder.json(try await backend.queues(rig: rig))
            },
            .enqueue: { call in
                let add = try await decodeBody(call, as: QueueAddRequest.self, describedAs: "a queue entry")
                return try ControlResponder.json(try await backend.enqueue(add), status: .created)
            },
            .dequeue: { call in
                let text = call.parameters["id"] ?? ""
                guard let id = Int64(text), id > 0 else {
                    throw ControlFailure.badRequest("'\(text)' is not a queue entry id (a whole number from 1)")
                }
                return try ControlResponder.json(try await backend.dequeue(entryID: id))
            },
            .releaseQueue: { call in
                let release = try await decodeBody(
                    call, as: QueueReleaseRequest.self, describedAs: #"a release request ({"rig": "RIG"})"#)
                return try ControlResponder.json(try await backend.releaseQueue(rig: release.rig))
            },
        ]
    }

    private static func decodeBody<T: Decodable>(
        _ call: ControlResponder.Call, as type: T.Type, describedAs name: String
    )
        async throws -> T
    {
        var request = call.request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maximumBodySize)
        } catch {
            throw ControlFailure.badRequest(
                "the request body is larger than \(maximumBodySize / 1024) KiB; send the protocol file's text")
        }
        return try RequestBodyDecoding.decode(T.self, from: Data(body.readableBytesView), describedAs: name)
    }
}
