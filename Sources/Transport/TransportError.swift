/// Why a transport operation failed, with the bytes last sent and the bytes received so far.
///
/// The bytes make a failure diagnosable from a log line alone: an operator sees what the host asked and
/// what (if anything) the instrument answered.
public struct TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: String, Sendable, Hashable {
        /// No reply (or no complete reply) within the allowed time.
        case timeout
        /// The other end hung up: device unplugged, pseudo-terminal master closed, read returned EIO or EOF.
        case disconnected
        /// Bytes arrived that cannot be part of a valid reply (control characters, bad checksum).
        case garbled
        /// A line exceeded the framer's maximum length.
        case overlongLine = "overlong-line"
        /// The port could not be opened or configured.
        case openFailed = "open-failed"
        /// The port is already in use by another process.
        case busy
        /// A read or write failed for another reason (errno in the detail).
        case ioFailure = "io-failure"
        /// The transport was closed by its owner.
        case closed
    }

    public var kind: Kind
    /// The port path or description.
    public var port: String
    /// What went wrong, in words.
    public var detail: String
    /// The bytes of the last request sent before the failure.
    public var sent: [UInt8]
    /// The bytes received since that request (possibly a partial reply).
    public var received: [UInt8]

    public init(_ kind: Kind, port: String, _ detail: String = "", sent: [UInt8] = [], received: [UInt8] = []) {
        self.kind = kind
        self.port = port
        self.detail = detail
        self.sent = sent
        self.received = received
    }

    /// The same error with the request/reply context filled in (keeps existing bytes when the new ones are empty).
    public func with(sent: [UInt8], received: [UInt8]) -> TransportError {
        var copy = self
        if !sent.isEmpty { copy.sent = sent }
        if !received.isEmpty { copy.received = received }
        return copy
    }

    public var description: String {
        var text = "\(port): \(kind.rawValue)"
        if !detail.isEmpty { text += ": \(detail)" }
        text += " (sent \"\(ByteText.escaped(sent))\", received \"\(ByteText.escaped(received))\")"
        return text
    }
}

/// Renders bytes for messages: printable ASCII as is, everything else as an escape.
public enum ByteText {
    /// `\r`, `\n`, `\t`, `\\` and `\xNN` escapes around printable ASCII.
    public static func escaped(_ bytes: some Sequence<UInt8>) -> String {
        var text = ""
        for byte in bytes {
            switch byte {
            case 0x0A: text += "\\n"
            case 0x0D: text += "\\r"
            case 0x09: text += "\\t"
            case 0x5C: text += "\\\\"
            case 0x20..<0x7F: text.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return text
    }
}
