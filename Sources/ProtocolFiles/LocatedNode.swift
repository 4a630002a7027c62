import Domain

/// A YAML node with the file it came from and its path from the document root, for error messages.
struct LocatedNode {
    let node: YAMLNode
    let file: String
    let path: String
    /// Values of the protocol's `parameters:`, substituted where a scalar reads `$name`.
    var parameters: [String: String] = [:]

    func child(_ node: YAMLNode, path childPath: String) -> LocatedNode {
        LocatedNode(node: node, file: file, path: childPath, parameters: parameters)
    }

    var isScalar: Bool { node.scalar != nil }
    var isMapping: Bool { node.mapping != nil }

    /// The keys of a mapping node, in file order.
    func keys() throws(FileError) -> [String] {
        guard let mapping = node.mapping else {
            throw error("expected a mapping (key: value pairs), found \(kindName)")
        }
        return mapping.map { $0.key.scalar ?? "" }
    }

    var line: Int? { node.line }
    var column: Int? { node.column }

    /// Where this node is, for declarations that keep their position past parsing.
    var position: SourcePosition { SourcePosition(line: node.line, column: node.column, key: path) }

    func error(_ problem: String, value: String? = nil, allowed: String? = nil) -> FileError {
        FileError(
            file: file, line: line, column: column, key: path, value: value, problem: problem, allowed: allowed)
    }

    /// The scalar text, or an error saying a single value was expected.
    func scalarText(expecting what: String) throws(FileError) -> String {
        guard let text = node.scalar else {
            throw error("expected \(what), found \(kindName)")
        }
        guard text.hasPrefix("$") else { return text }
        let name = String(text.dropFirst())
        guard let value = parameters[name] else {
            let known = parameters.keys.sorted().map { "$" + $0 }
            throw error(
                "'\(text)' names no parameter of this protocol", value: text,
                allowed: known.isEmpty
                    ? "no parameters are declared (add a `parameters:` section)" : known.joined(separator: ", "))
        }
        return value
    }

    var kindName: String {
        switch node.content {
        case .scalar: "a single value"
        case .mapping: "a mapping (key: value pairs)"
        case .sequence: "a list"
        }
    }

    func quantity(_ dimension: Dimension, range: ClosedRange<Double>? = nil) throws(FileError) -> Double {
        try quantity(oneOf: [dimension], range: range).value
    }

    func quantity(oneOf dimensions: [Dimension], range: ClosedRange<Double>? = nil) throws(FileError) -> Quantity {
        let text = try scalarText(expecting: dimensions.map(\.phrase).joined(separator: " or "))
        let quantity: Quantity
        do {
            quantity = try Quantity.parse(text, asOneOf: dimensions)
        } catch {
            throw self.error("'\(text)' is not valid: \(error.problemSummary)", value: text, allowed: error.expectation)
        }
        if let range { try check(quantity, text: text, in: range) }
        return quantity
    }

    /// A current (A) or a current density (mA/cm2), each within its own range.
    func current(currentRange: ClosedRange<Double>, densityRange: ClosedRange<Double>) throws(FileError) -> Quantity {
        let quantity = try quantity(oneOf: [.currentDensity, .current])
        let text = try scalarText(expecting: "a current or current density")
        try check(quantity, text: text, in: quantity.dimension == .current ? currentRange : densityRange)
        return quantity
    }

    private func check(_ quantity: Quantity, text: String, in range: ClosedRange<Double>) throws(FileError) {
        guard !range.contains(quantity.value) else { return }
        let unit = quantity.dimension.canonicalUnit
        throw error(
            "'\(text)' is out of range", value: text,
            allowed: "\(formatNumber(range.lowerBound)) to \(formatNumber(range.upperBound)) \(unit)")
    }

    func integer(range: ClosedRange<Int>) throws(FileError) -> Int {
        let text = try scalarText(expecting: "a whole number")
        guard let value = Int(text) else {
            throw error(
                "'\(text)' is not a whole number", value: text, allowed: "\(range.lowerBound) to \(range.upperBound)")
        }
        guard range.contains(value) else {
            throw error("\(value) is out of range", value: text, allowed: "\(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func boolean() throws(FileError) -> Bool {
        let text = try scalarText(expecting: "true or false")
        switch text {
        case "true": return true
        case "false": return false
        default: throw error("'\(text)' is not a boolean", value: text, allowed: "true, false")
        }
    }

    func string() throws(FileError) -> String {
        let text = try scalarText(expecting: "a text value")
        guard !text.isEmpty else { throw error("must not be empty") }
        return text
    }

    func word(allowed words: [String]) throws(FileError) -> String {
        let text = try scalarText(expecting: "one of \(words.joined(separator: ", "))")
        guard words.contains(text) else {
            throw error("'\(text)' is not allowed", value: text, allowed: words.joined(separator: ", "))
        }
        return text
    }

    func list() throws(FileError) -> [LocatedNode] {
        guard let sequence = node.sequence else { throw error("expected a list, found \(kindName)") }
        return sequence.enumerated().map { index, node in child(node, path: "\(path)[\(index)]") }
    }

    func mapping(allowedKeys: [String]) throws(FileError) -> MappingReader {
        guard let mapping = node.mapping else {
            throw error("expected a mapping (key: value pairs), found \(kindName)")
        }
        let allowed = Set(allowedKeys)
        var entries: [String: YAMLNode] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.scalar ?? ""
            let located = child(keyNode, path: join(path, key))
            guard allowed.contains(key) else {
                throw located.error("unknown key '\(key)'", value: key, allowed: allowedKeys.joined(separator: ", "))
            }
            guard entries.updateValue(value, forKey: key) == nil else {
                throw located.error("key '\(key)' is given twice")
            }
        }
        return MappingReader(owner: self, entries: entries)
    }

    /// For `- name: {...}` or `- name` entries: the single key and its value (nil for a bare name).
    func singleKeyEntry(allowed names: [String], what: String) throws(FileError) -> (name: String, value: LocatedNode?)
    {
        if let scalar = node.scalar {
            guard names.contains(scalar) else {
                throw error("unknown \(what) '\(scalar)'", value: scalar, allowed: names.joined(separator: ", "))
            }
            return (scalar, nil)
        }
        guard let mapping = node.mapping, mapping.count == 1, let (keyNode, value) = mapping.first else {
            throw error("expected one \(what) written as `name: {...}`", allowed: names.joined(separator: ", "))
        }
        let name = keyNode.scalar ?? ""
        guard names.contains(name) else {
            let located = child(keyNode, path: path)
            throw located.error("unknown \(what) '\(name)'", value: name, allowed: names.joined(separator: ", "))
        }
        return (name, child(value, path: join(path, name)))
    }
}

/// The entries of one YAML mapping whose keys have been checked against an allowed list.
struct MappingReader {
    let owner: LocatedNode
    let entries: [String: YAMLNode]

    func optional(_ key: String) -> LocatedNode? {
        entries[key].map { owner.child($0, path: join(owner.path, key)) }
    }

    func required(_ key: String) throws(FileError) -> LocatedNode {
        guard let node = optional(key) else { throw owner.error("missing required key '\(key)'") }
        return node
    }

    func has(_ key: String) -> Bool { entries[key] != nil }
}

func join(_ path: String, _ key: String) -> String {
    path.isEmpty ? key : "\(path).\(key)"
}

extension QuantityError {
    var problemSummary: String {
        switch problem {
        case .notANumber: "it does not start with a number"
        case .missingUnit: "it has no unit"
        case .unknownUnit(let unit): "'\(unit)' is not a unit of \(dimensions.map(\.phrase).joined(separator: " or "))"
        }
    }
}

/// Parses YAML text into the root node, within ``FileLimits``; every error has a line and column.
func parseRoot(_ text: String, file: String) throws(FileError) -> LocatedNode {
    guard let root = try YAMLComposer.compose(text, file: file) else {
        throw FileError(file: file, line: 1, column: 1, problem: "the file is empty")
    }
    return LocatedNode(node: root, file: file, path: "")
}
