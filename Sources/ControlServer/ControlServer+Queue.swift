import Control
import Foundation
import Hummingbird

/// The queue's part of the control API: what the daemon answers to `/v1/queue`.
public protocol QueueBackend: Sendable {
    /// The queues of every rig, or of one.
    func queues(rig: String?) async throws -> [RigQueueInfo]
    /// Puts a protocol at the end of a rig's queue (it starts at once when the rig is free).
    func enqueue(_ request: QueueAddRequest) async throws -> QueueEntryInfo
    /// Takes a waiting entry out of its queue; answers the entry.
    func dequeue(entryID: Int64) async throws -> QueueEntryInfo
    /// Lets a held queue go on; answers the rig's queue.
    func releaseQueue(rig: String) async throws -> RigQueueInfo
}

extension ControlServer {
    /// `GET /v1/queue[?rig=R]`, `POST /v1/queue`, `DELETE /v1/queue/{id}`, `POST /v1/queue/release`.
    static func addQueueRoutes(to group: RouterGroup<BasicRequestContext>, backend: any ControlBackend) {
        guard let queue = backend as? any QueueBackend else { return }
        group.get("queue") { request, _ in
            try await answer { try await queue.queues(rig: request.uri.queryParameters.get("rig")) }
        }
        group.post("queue") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: maximumBodySize)
            return try await answer(status: .created) {
                let add: QueueAddRequest
                do {
                    add = try JSONDecoder().decode(QueueAddRequest.self, from: Data(body.readableBytesView))
                } catch {
                    throw ControlFailure.badRequest("the request body is not a valid queue entry: \(error)")
                }
                return try await queue.enqueue(add)
            }
        }
        group.post("queue/release") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024)
            return try await answer {
                let release: QueueReleaseRequest
                do {
                    release = try JSONDecoder().decode(QueueReleaseRequest.self, from: Data(body.readableBytesView))
                } catch {
                    throw ControlFailure.badRequest("the request body is not {\"rig\": \"RIG\"}: \(error)")
                }
                return try await queue.releaseQueue(rig: release.rig)
            }
        }
        group.delete("queue/:id") { _, context in
            try await answer {
                guard let text = context.parameters.get("id"), let id = Int64(text) else {
                    throw ControlFailure.badRequest(
                        "'\(context.parameters.get("id") ?? "")' is not a queue entry id (a whole number)")
                }
                return try await queue.dequeue(entryID: id)
            }
        }
    }
}
