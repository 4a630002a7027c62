/// Splits a byte stream into text lines, tolerating the dirt real serial links produce.
///
/// Feed bytes in any chunking; the output does not depend on where the chunks split. Bytes listed in
/// `ignoredBytes` (NUL, XON, XOFF by default) are dropped wherever they occur. A line containing other
/// control characters or non-ASCII bytes is reported as `garbled` instead of as text. A line longer than
/// `maxLineLength` is reported once as `overlong` and the rest of it, up to the next terminator, is discarded.
public struct LineFramer: Sendable {
    /// Which bytes end a line.
    public enum Terminator: Sendable, Hashable {
        /// LF ends a line; CR is dropped wherever it occurs (MethodSCRIPT).
        case lf
        /// CR ends a line; LF is dropped wherever it occurs.
        case cr
        /// CR or LF ends a line; CR LF and LF CR pairs count as one terminator (SCPI, GCL2 replies).
        case crOrLF
    }

    /// Framing rules for one instrument's command set.
    public struct Configuration: Sendable, Hashable {
        public var terminator: Terminator
        /// The longest line accepted, in bytes, not counting the terminator.
        public var maxLineLength: Int
        /// Bytes dropped wherever they occur.
        public var ignoredBytes: Set<UInt8>

        public init(terminator: Terminator, maxLineLength: Int = 1024, ignoredBytes: Set<UInt8> = [0x00, 0x11, 0x13]) {
            self.terminator = terminator
            self.maxLineLength = maxLineLength
            self.ignoredBytes = ignoredBytes
        }
    }

    /// One framed unit.
    public enum Output: Sendable, Hashable {
        /// A complete line without its terminator (possibly empty).
        case line(String)
        /// A complete line that contained bytes no text line may contain; the raw bytes without terminator.
        case garbled([UInt8])
        /// The first `maxLineLength` bytes of a line that was too long; the rest of the line is discarded.
        case overlong([UInt8])
    }

    public let configuration: Configuration
    private var buffer: [UInt8] = []
    private var containsGarbage = false
    private var discardingOverlongLine = false
    private var previousTerminator: UInt8?

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Bytes of the line currently being assembled.
    public var pendingBytes: [UInt8] { buffer }

    /// Forgets any partial line.
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        containsGarbage = false
        discardingOverlongLine = false
        previousTerminator = nil
    }

    /// Consumes `bytes` and returns the units they complete, in order.
    public mutating func push(_ bytes: some Sequence<UInt8>) -> [Output] {
        var outputs: [Output] = []
        for byte in bytes {
            if let output = push(byte: byte) { outputs.append(output) }
        }
        return outputs
    }

    private mutating func push(byte: UInt8) -> Output? {
        let carriageReturn: UInt8 = 0x0D
        let lineFeed: UInt8 = 0x0A
        if configuration.ignoredBytes.contains(byte) { return nil }
        switch configuration.terminator {
        case .lf:
            if byte == carriageReturn { return nil }
            if byte == lineFeed { return endLine() }
        case .cr:
            if byte == lineFeed { return nil }
            if byte == carriageReturn { return endLine() }
        case .crOrLF:
            if byte == carriageReturn || byte == lineFeed {
                if let previous = previousTerminator, previous != byte {
                    previousTerminator = nil
                    return nil
                }
                let output = endLine()
                previousTerminator = byte
                return output
            }
        }
        previousTerminator = nil
        if discardingOverlongLine { return nil }
        if buffer.count >= configuration.maxLineLength {
            discardingOverlongLine = true
            let head = buffer
            buffer.removeAll(keepingCapacity: true)
            containsGarbage = false
            return .overlong(head)
        }
        if !Self.isText(byte) { containsGarbage = true }
        buffer.append(byte)
        return nil
    }

    private mutating func endLine() -> Output? {
        defer {
            buffer.removeAll(keepingCapacity: true)
            containsGarbage = false
        }
        if discardingOverlongLine {
            discardingOverlongLine = false
            return nil
        }
        if containsGarbage { return .garbled(buffer) }
        return .line(String(decoding: buffer, as: UTF8.self))
    }

    private static func isText(_ byte: UInt8) -> Bool {
        byte == 0x09 || (0x20..<0x7F).contains(byte)
    }
}
