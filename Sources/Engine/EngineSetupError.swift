import Domain

/// Why an engine could not be built for a protocol (plan or criteria), with the position of the step or criterion
/// at fault when the protocol was read from a file.
public struct EngineSetupError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var position: SourcePosition?

    public init(message: String, position: SourcePosition? = nil) {
        self.message = message
        self.position = position
    }

    /// `line:column: key: message`, or the message alone without a position.
    public var description: String { position.map { "\($0): \(message)" } ?? message }

    /// `file:line:column: key: message`, the shape of every other error about a protocol file.
    public func description(file: String) -> String { SourcePosition.locate(message, at: position, in: file) }
}
