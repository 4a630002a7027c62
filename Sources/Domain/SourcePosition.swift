/// Where a declaration was written in its protocol file: the line and column (from 1) of its key, and the key's
/// dotted path (`steps[0].loop`, `stop[2].stack-pressure`).
///
/// The parser stores it on steps, schedules and criterion declarations, so an error found after parsing (a plan
/// that unrolls to too many steps, a guard that lacks its setpoint) still names the line to fix.
public struct SourcePosition: Sendable, Hashable, Codable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var key: String

    public init(line: Int, column: Int, key: String) {
        self.line = line
        self.column = column
        self.key = key
    }

    /// `line:column: key`.
    public var description: String { "\(line):\(column): \(key)" }

    /// An error message in the compiler's shape: `file:line:column: key: problem`, or `file: problem` without a
    /// position.
    public static func locate(_ problem: String, at position: SourcePosition?, in file: String) -> String {
        guard let position else { return "\(file): \(problem)" }
        let key = position.key.isEmpty ? "" : "\(position.key): "
        return "\(file):\(position.line):\(position.column): \(key)\(problem)"
    }
}
