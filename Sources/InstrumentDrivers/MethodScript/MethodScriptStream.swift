/// One line of the output a running MethodSCRIPT script sends.
public enum MethodScriptStreamLine: Sendable, Hashable {
    /// `P...`: a data package.
    case package([MethodScriptVariable])
    /// `Mxxxx`: a measurement loop began (technique id in hex).
    case measurementLoopBegan(String)
    /// `*`: a measurement loop ended.
    case measurementLoopEnded
    /// `L` / `+`: a generic loop began or ended; `Cxxxx` / `-`: a scan began or ended.
    case structure(String)
    /// `T...`: text from `send_string`.
    case text(String)
    /// `Z`, `Y`, `h`, `H`: acknowledgement of an abort, loop exit, halt or resume.
    case acknowledgement(Character)
    /// `!XXXX[: Line n]`: runtime error; the script stopped and its `on_finished:` block did not run.
    case runtimeError(code: Int, line: String)
    /// An empty line: the script ended (after its `on_finished:` block).
    case scriptEnded
    /// `<c>!XXXX`: an error reply to an online command (for example `Z!0006` when nothing runs).
    case commandError(command: Character, code: Int, line: String)
    /// Anything else.
    case unrecognised(String)

    /// Classifies one line (without its terminator).
    public init(_ line: String) throws(MethodScriptDecodingError) {
        guard let first = line.first else {
            self = .scriptEnded
            return
        }
        switch first {
        case "P": self = .package(try MethodScriptVariable.package(line))
        case "M": self = .measurementLoopBegan(String(line.dropFirst()))
        case "*" where line.count == 1: self = .measurementLoopEnded
        case "L", "+", "C", "-": self = .structure(line)
        case "T": self = .text(String(line.dropFirst()))
        case "!": self = .runtimeError(code: Self.errorCode(after: line.startIndex, in: line) ?? -1, line: line)
        default:
            let second = line.dropFirst().first
            if second == "!", let code = Self.errorCode(after: line.index(after: line.startIndex), in: line) {
                self = .commandError(command: first, code: code, line: line)
            } else if line.count == 1, "ZYhH".contains(first) {
                self = .acknowledgement(first)
            } else {
                self = .unrecognised(line)
            }
        }
    }

    /// Classifies one line; a package that cannot be decoded is ``unrecognised(_:)``.
    public init(classifying line: String) {
        do {
            try self.init(line)
        } catch {
            self = .unrecognised(line)
        }
    }

    private static func errorCode(after bang: String.Index, in line: String) -> Int? {
        let digits = line[line.index(after: bang)...].prefix(4)
        guard digits.count == 4 else { return nil }
        return Int(digits, radix: 16)
    }
}

/// Names for the MethodSCRIPT error codes a driver is most likely to see.
public enum MethodScriptErrorCode {
    public static func describe(_ code: Int) -> String {
        let names: [Int: String] = [
            0x0003: "unknown command", 0x0006: "invalid in this state", 0x0007: "bad argument value",
            0x0008: "line too long", 0x000C: "no script loaded", 0x000F: "invalid potential",
            0x0014: "OCP measurement with the cell on", 0x001B: "not supported on this device",
            0x0021: "PGStat mode not supported", 0x0023: "command invalid for this PGStat mode",
            0x0032: "critical cell overload, measurement aborted", 0x005A: "timing cannot be met",
            0x0080: "counter electrode oscillating", 0x4001: "unknown script command",
            0x4004: "unexpected character", 0x4005: "script too large", 0x400B: "nested measurement loop",
            0x4018: "script ended unexpectedly", 0x4026: "variable redeclared", 0x4027: "needs cell_on",
            0x4028: "needs cell_off", 0x4205: "argument out of bounds", 0x420B: "undeclared variable",
            0x7FFF: "fatal error, reset the device",
        ]
        let hex = String(code, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + " " + (names[code] ?? "(unlisted)")
    }
}
