/// The SI prefixes MethodSCRIPT uses in script literals and data packages.
public enum MethodScriptPrefix {
    /// Prefix character and its factor; `i` marks an integer (factor 1) and a space means no prefix.
    public static let factors: [Character: Double] = [
        "a": 1e-18, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, " ": 1, "i": 1,
        "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    ]
}

/// One variable of a MethodSCRIPT data package: its type code, value and metadata.
///
/// Wire form `TTVVVVVVVp[,meta]*`: a two-letter type (`ab` WE potential, `ba` WE current, `eb` time, ...),
/// seven hex digits holding the value plus 2^27, an SI prefix character, and optional comma-separated
/// metadata (`1X` status, `2XX` range index, `4X` noise). `     nan` replaces the value for not-a-number.
public struct MethodScriptVariable: Sendable, Hashable {
    public var type: String
    public var value: Double
    /// Status bits: 1 timing error, 2 overload, 4 underload, 8 overload warning.
    public var status: Int?
    /// Range index, meaning depends on the device and the variable type.
    public var range: Int?

    public init(type: String, value: Double, status: Int? = nil, range: Int? = nil) {
        self.type = type
        self.value = value
        self.status = status
        self.range = range
    }

    /// Whether the instrument flagged the reading as out of range.
    public var isOverloaded: Bool { (status ?? 0) & 0b0010 != 0 }

    /// Parses one `;`-separated field of a package line.
    public init(field: Substring) throws(MethodScriptDecodingError) {
        let parts = field.split(separator: ",", omittingEmptySubsequences: false)
        let head = Array(parts[0])
        guard head.count == 10, head[0].isLowercase, head[1].isLowercase else {
            throw MethodScriptDecodingError(
                field: String(field), reason: "expected 2 type letters and 8 value characters")
        }
        type = String(head[0..<2])
        let valueText = String(head[2..<10])
        if valueText == "     nan" {
            value = .nan
        } else {
            guard let count = Int(String(head[2..<9]), radix: 16), let factor = MethodScriptPrefix.factors[head[9]]
            else {
                throw MethodScriptDecodingError(field: String(field), reason: "bad hex value or SI prefix")
            }
            value = Double(count - 0x800_0000) * factor
        }
        for meta in parts.dropFirst() {
            guard let kind = meta.first, let number = Int(meta.dropFirst(), radix: 16) else {
                throw MethodScriptDecodingError(field: String(field), reason: "bad metadata \"\(meta)\"")
            }
            switch kind {
            case "1": status = number
            case "2": range = number
            default: break
            }
        }
    }

    /// Parses a whole package line (`P` followed by fields separated by `;`).
    public static func package(_ line: String) throws(MethodScriptDecodingError) -> [MethodScriptVariable] {
        guard line.first == "P", line.count > 1 else {
            throw MethodScriptDecodingError(field: line, reason: "a package line starts with P")
        }
        var variables: [MethodScriptVariable] = []
        for field in line.dropFirst().split(separator: ";") {
            variables.append(try MethodScriptVariable(field: field))
        }
        return variables
    }
}

/// A data package field that does not follow the MethodSCRIPT encoding.
public struct MethodScriptDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var field: String
    public var reason: String

    public var description: String { "cannot decode \"\(field)\": \(reason)" }
}

/// Script literals: an integer with an optional SI prefix and never a decimal point (`250u`, `-2`, `5850535u`).
public enum MethodScriptLiteral {
    private static let prefixes: [(Character, Double)] = [
        ("G", 1e9), ("M", 1e6), ("k", 1e3), (" ", 1), ("m", 1e-3), ("u", 1e-6), ("n", 1e-9), ("p", 1e-12),
        ("f", 1e-15), ("a", 1e-18),
    ]

    /// The shortest exact literal for `value`, or the nearest one with nine significant digits.
    public static func format(_ value: Double) -> String {
        if value == 0 { return "0" }
        for (prefix, factor) in prefixes {
            let mantissa = value / factor
            let rounded = mantissa.rounded()
            let isExact = abs(mantissa - rounded) <= 1e-9 * abs(mantissa)
            if abs(rounded) >= 1, abs(rounded) < 2_147_483_648, isExact || abs(mantissa) >= 1e8 {
                return String(Int(rounded)) + (prefix == " " ? "" : String(prefix))
            }
        }
        let (prefix, factor) = prefixes[prefixes.count - 1]
        return String(Int((value / factor).rounded())) + String(prefix)
    }

    /// An integer count literal (`11i`).
    public static func count(_ value: Int) -> String { "\(value)i" }
}
