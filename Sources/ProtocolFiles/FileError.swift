/// A problem in a protocol or rig file, located precisely enough to fix it without guessing.
///
/// Its description reads `file:line:column: key: problem` followed by what is allowed, the shape compilers use,
/// so editors and terminals can jump to it.
public struct FileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    /// Dotted path of the offending key, e.g. `steps[1].loop.plating_current.increment`.
    public var key: String?
    /// The offending value as written, when there is one.
    public var value: String?
    public var problem: String
    /// What would be accepted instead.
    public var allowed: String?

    public init(
        file: String, line: Int? = nil, column: Int? = nil, key: String? = nil, value: String? = nil,
        problem: String, allowed: String? = nil
    ) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.value = value
        self.problem = problem
        self.allowed = allowed
    }

    public var description: String {
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        var text = "\(location): "
        if let key, !key.isEmpty { text += "\(key): " }
        text += problem
        if let value, !problem.contains("'\(value)'") { text += " (got '\(value)')" }
        if let allowed { text += "; allowed: \(allowed)" }
        return text
    }
}
