import Foundation
import TestSupport
import Yams

/// A JSON value as a daemon sent it, with booleans and numbers kept apart.
indirect enum JSONValue: Decodable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    static func parse(_ data: Data) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: data) }

    /// The JSON type names this value satisfies (an integer is a number too).
    var typeNames: Set<String> {
        switch self {
        case .null: ["null"]
        case .bool: ["boolean"]
        case .number(let value): value == value.rounded() ? ["number", "integer"] : ["number"]
        case .string: ["string"]
        case .array: ["array"]
        case .object: ["object"]
        }
    }
}

/// `docs/openapi.yaml`, read with Yams, with what the tests ask of it: operations, schemas by reference, and a
/// validator that says where a JSON value departs from a schema.
struct OpenAPIDocument {
    let root: [String: Any]

    init() throws {
        let text = try TestSupport.readRepositoryFile("docs/openapi.yaml")
        guard let root = try Yams.load(yaml: text) as? [String: Any] else {
            throw DocumentError("docs/openapi.yaml is not a mapping")
        }
        self.root = root
    }

    struct DocumentError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    var paths: [String: [String: Any]] { (root["paths"] as? [String: [String: Any]]) ?? [:] }

    /// The operation for `method` (lower case in the document) on `path`.
    func operation(_ method: String, _ path: String) -> [String: Any]? {
        paths[path]?[method.lowercased()] as? [String: Any]
    }

    /// The responses of an operation, each resolved.
    func responses(_ method: String, _ path: String) -> [String: [String: Any]] {
        let raw = (operation(method, path)?["responses"] as? [String: Any]) ?? [:]
        return raw.compactMapValues { ($0 as? [String: Any]).map(resolve) }
    }

    /// Follows `$ref` until a schema or response that is not a reference.
    func resolve(_ node: [String: Any]) -> [String: Any] {
        guard let reference = node["$ref"] as? String, reference.hasPrefix("#/") else { return node }
        var current: Any = root
        for part in reference.dropFirst(2).split(separator: "/") {
            guard let mapping = current as? [String: Any], let next = mapping[String(part)] else { return [:] }
            current = next
        }
        return resolve(current as? [String: Any] ?? [:])
    }

    func schema(named name: String) -> [String: Any] {
        resolve(["$ref": "#/components/schemas/\(name)"])
    }

    /// The schema of a response's body for a media type.
    func bodySchema(_ response: [String: Any], mediaType: String) -> [String: Any]? {
        let content = response["content"] as? [String: Any]
        return ((content?[mediaType] as? [String: Any])?["schema"] as? [String: Any]).map(resolve)
    }

    /// Every place `value` departs from `schema`: a field not documented, a required field missing, a wrong type,
    /// a word not in its enum. Empty when it fits.
    func problems(_ value: JSONValue, _ schema: [String: Any], at path: String = "$") -> [String] {
        let schema = resolve(schema)
        if let choices = schema["oneOf"] as? [[String: Any]] {
            let fits = choices.filter { problems(value, $0, at: path).isEmpty }
            return fits.count == 1 ? [] : ["\(path): fits \(fits.count) of the oneOf choices"]
        }
        var found: [String] = []
        let allowed: [String] = (schema["type"] as? [String]) ?? (schema["type"] as? String).map { [$0] } ?? []
        if !allowed.isEmpty, value.typeNames.isDisjoint(with: allowed) {
            return ["\(path): \(value.typeNames.sorted()) where the document says \(allowed)"]
        }
        if let words = schema["enum"] as? [Any], case .string(let word) = value,
            !words.contains(where: { "\($0)" == word })
        {
            found.append("\(path): '\(word)' is not one of \(words)")
        }
        switch value {
        case .object(let fields):
            let properties = (schema["properties"] as? [String: Any]) ?? [:]
            for required in (schema["required"] as? [String]) ?? [] where fields[required] == nil {
                found.append("\(path): the required field '\(required)' is missing")
            }
            let propertyNames = ((schema["propertyNames"] as? [String: Any])?["enum"] as? [String]).map(Set.init)
            for (name, field) in fields {
                if let names = propertyNames, !names.contains(name) {
                    found.append("\(path): key '\(name)' is not one of \(names.sorted())")
                }
                if let property = properties[name] as? [String: Any] {
                    found += problems(field, property, at: "\(path).\(name)")
                } else if let additional = schema["additionalProperties"] as? [String: Any] {
                    found += problems(field, additional, at: "\(path).\(name)")
                } else {
                    found.append("\(path): the field '\(name)' is not documented")
                }
            }
        case .array(let items):
            if let itemSchema = schema["items"] as? [String: Any] {
                for (index, item) in items.enumerated() { found += problems(item, itemSchema, at: "\(path)[\(index)]") }
            }
        default:
            break
        }
        return found
    }
}
