import Control
import Foundation
import Hummingbird

/// Dispatches each request to the handler of the ``ControlRoute`` it matches. Every answer that is not a success
/// is an ``ErrorBody``: 404 for a path no route has, 405 (with `Allow`) for a method the path does not take,
/// and the handler's ``ControlFailure`` status otherwise (500 for anything unexpected).
struct ControlResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    typealias Handler = @Sendable (Call) async throws -> Response

    /// What a handler gets: the request and the path parameters its route matched.
    struct Call: Sendable {
        var request: Request
        var parameters: [String: String]

        /// The `{id}` path parameter as a run id.
        func runID() throws -> Int64 {
            let text = parameters["id"] ?? ""
            guard let id = Int64(text), id > 0 else {
                throw ControlFailure.badRequest("'\(text)' is not a run id (a whole number from 1)")
            }
            return id
        }

        /// The run list's `limit` and `before` query parameters (the default page size, and from the newest).
        func runPage() throws -> (limit: Int, before: Int64?) {
            let query = request.uri.queryParameters
            var limit = ControlRoute.defaultRunPageSize
            if let text = query.get(ControlRoute.limitParameter) {
                let range = ControlRoute.runPageSizes
                guard let value = Int(text), range.contains(value) else {
                    throw ControlFailure.badRequest(
                        "limit=\(text) is not a page size; give a whole number from \(range.lowerBound) to "
                            + "\(range.upperBound)")
                }
                limit = value
            }
            var before: Int64?
            if let text = query.get(ControlRoute.beforeParameter) {
                guard let value = Int64(text), value > 0 else {
                    throw ControlFailure.badRequest("before=\(text) is not a run id (a whole number from 1)")
                }
                before = value
            }
            return (limit, before)
        }

        /// The report's `refresh` query parameter, in seconds; nil when absent.
        func refreshSeconds() throws -> Int? {
            let name = ControlRoute.refreshParameter
            guard let text = request.uri.queryParameters.get(name) else { return nil }
            let range = ControlRoute.refreshRange
            guard let seconds = Int(text), range.contains(seconds) else {
                throw ControlFailure.badRequest(
                    "\(name)=\(text) is not a refresh period; give whole seconds from \(range.lowerBound) to "
                        + "\(range.upperBound)")
            }
            return seconds
        }
    }

    let handlers: [ControlRoute: Handler]

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        let routes = Array(handlers.keys)
        guard
            let route = routes.first(where: { $0.method.rawValue == request.method.rawValue && $0.match(path) != nil }
            ),
            let handler = handlers[route], let parameters = route.match(path)
        else {
            let allowed = ControlRoute.methods(on: path, among: routes)
            guard !allowed.isEmpty else {
                return Self.failure(
                    ControlFailure.notFound(
                        "no route \(request.method.rawValue) \(path); the routes are in docs/control-api.md"))
            }
            let names = allowed.map(\.rawValue).joined(separator: ", ")
            var response = Self.failure(
                ControlFailure(status: 405, "\(path) answers \(names), not \(request.method.rawValue)"))
            response.headers[.allow] = names
            return response
        }
        do {
            return try await handler(Call(request: request, parameters: parameters))
        } catch {
            return Self.failure(error)
        }
    }

    /// An error answer: the failure's status and message, or 500 with the error's text.
    static func failure(_ error: any Error) -> Response {
        let failure = error as? ControlFailure ?? ControlFailure(status: 500, "internal error: \(error)")
        let status = HTTPResponse.Status(code: failure.status)
        return (try? json(ErrorBody(error: failure.message), status: status))
            ?? Response(status: .internalServerError)
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do {
            data = try encoder.encode(value)
        } catch {
            throw ControlFailure(status: 500, "the answer could not be encoded as JSON: \(error)")
        }
        var headers = HTTPFields()
        headers[.contentType] = ControlRoute.Reply.json.rawValue
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func html(_ page: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = ControlRoute.Reply.html.rawValue + "; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
    }
}
