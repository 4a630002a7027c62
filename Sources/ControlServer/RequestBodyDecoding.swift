import Foundation

/// Decodes a request body and, when it does not fit, says in words which field is missing or has the wrong type
/// (never the decoder's internals: coding paths, type names, debug descriptions).
enum RequestBodyDecoding {
    static func decode<T: Decodable>(_ type: T.Type, from body: Data, describedAs name: String) throws(ControlFailure)
        -> T
    {
        guard !body.isEmpty else {
            throw .badRequest("the request body is empty; send \(name) as a JSON object")
        }
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch let error as DecodingError {
            throw .badRequest(describe(error, name: name))
        } catch {
            throw .badRequest("the request body is not \(name): it cannot be read as JSON")
        }
    }

    static func describe(_ error: DecodingError, name: String) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            let field = fieldName(context.codingPath + [key])
            return "\(name) needs the field '\(field)'"
        case .valueNotFound(let type, let context):
            return "'\(fieldName(context.codingPath))' in \(name) is null; it must be \(words(for: type))"
        case .typeMismatch(let type, let context):
            guard !context.codingPath.isEmpty else { return "the request body must be \(words(for: type))" }
            return "'\(fieldName(context.codingPath))' in \(name) must be \(words(for: type))"
        case .dataCorrupted(let context):
            guard !context.codingPath.isEmpty else {
                return "the request body is not JSON; send \(name) as a JSON object"
            }
            return "'\(fieldName(context.codingPath))' in \(name) has a value that cannot be read"
        @unknown default:
            return "the request body is not \(name)"
        }
    }

    /// `parameters.current_density`, `steps[2]`.
    static func fieldName(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text.isEmpty ? "the body" : text
    }

    /// What a value of `type` looks like in JSON, for a person.
    static func words(for type: Any.Type) -> String {
        switch type {
        case is String.Type: "text (a JSON string)"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type: "a whole number"
        case is Double.Type, is Float.Type: "a number"
        case is [String: String].Type: "an object whose values are text"
        case is [String: Any].Type: "an object"
        case is [Any].Type: "a list"
        default: "an object"
        }
    }
}
