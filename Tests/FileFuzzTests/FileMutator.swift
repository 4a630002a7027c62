import TestSupport

/// The kinds of file the fuzz test feeds to cellrig's readers.
enum FuzzedFileKind: String, CaseIterable, Sendable {
    case protocolFile = "protocol"
    case rigFile = "rig"
    case sampleCSV = "csv"

    var fileExtension: String { self == .sampleCSV ? "csv" : "yaml" }
}

/// One generated case: the bytes, the file kind, and the mutations that made it (to reproduce a failure by hand).
struct FuzzCase: Sendable {
    var index: Int
    var kind: FuzzedFileKind
    var seedName: String
    var operations: [String]
    var bytes: [UInt8]

    var fileName: String { "fuzz/\(index)-\(kind.rawValue).\(kind.fileExtension)" }
}

/// Turns valid seed files into malformed ones: flipped and replaced bytes, truncations, duplicated, deleted and
/// swapped lines, huge and odd numbers, deep nesting, YAML anchors and aliases, invalid UTF-8, random keys, long
/// lines and oversized files. One to three mutations per case.
struct FileMutator {
    var random: SplitMix64

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
    }

    mutating func makeCase(index: Int, kind: FuzzedFileKind, seeds: [(name: String, text: String)]) -> FuzzCase {
        let seed = seeds[Int.random(in: 0..<seeds.count, using: &random)]
        var bytes = Array(seed.text.utf8)
        var operations: [String] = []
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let name: String
            (bytes, name) = mutate(bytes, kind: kind)
            operations.append(name)
        }
        return FuzzCase(index: index, kind: kind, seedName: seed.name, operations: operations, bytes: bytes)
    }

    private mutating func pick<T>(_ choices: [T]) -> T { choices[Int.random(in: 0..<choices.count, using: &random)] }

    private mutating func mutate(_ bytes: [UInt8], kind: FuzzedFileKind) -> ([UInt8], String) {
        var operations: [(String, (inout FileMutator, [UInt8]) -> [UInt8])] = [
            ("flip-bits", { $0.flipBits($1) }),
            ("replace-bytes", { $0.replaceBytes($1) }),
            ("truncate", { $0.truncate($1) }),
            ("duplicate-line", { $0.duplicateLine($1) }),
            ("delete-line", { $0.deleteLine($1) }),
            ("swap-lines", { $0.swapLines($1) }),
            ("huge-number", { $0.replaceNumber($1) }),
            ("invalid-utf8", { $0.insertInvalidUTF8($1) }),
            ("long-line", { $0.insertLongLine($1) }),
        ]
        if kind == .sampleCSV {
            operations += [
                ("random-column", { $0.insertRandomColumn($1) }),
                ("repeat-rows", { $0.repeatLines($1, maximumCopies: 3000) }),
            ]
        } else {
            operations += [
                ("deep-nesting", { $0.insertDeepNesting($1) }),
                ("random-key", { $0.insertRandomKey($1) }),
                ("anchors-and-aliases", { $0.insertAliases($1) }),
                ("repeat-lines", { $0.repeatLines($1, maximumCopies: 20_000) }),
                ("huge-schedule", { $0.insertHugeSchedule($1) }),
                ("oversized-file", { $0.padToOversize($1) }),
            ]
        }
        let (name, operation) = pick(operations)
        return (operation(&self, bytes), name)
    }

    // MARK: - Byte-level mutations

    private mutating func flipBits(_ bytes: [UInt8]) -> [UInt8] {
        guard !bytes.isEmpty else { return bytes }
        var result = bytes
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = Int.random(in: 0..<result.count, using: &random)
            result[position] ^= 1 << UInt8.random(in: 0...7, using: &random)
        }
        return result
    }

    private mutating func replaceBytes(_ bytes: [UInt8]) -> [UInt8] {
        guard !bytes.isEmpty else { return bytes }
        var result = bytes
        let interesting: [UInt8] = [
            0, 0x09, 0x0A, 0x0D, 0x20, 0x22, 0x27, 0x23, 0x26, 0x2A, 0x2C, 0x3A, 0x5B, 0x7B, 0x7F,
        ]
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = Int.random(in: 0..<result.count, using: &random)
            result[position] =
                Bool.random(using: &random) ? pick(interesting) : UInt8.random(in: 0...255, using: &random)
        }
        return result
    }

    private mutating func truncate(_ bytes: [UInt8]) -> [UInt8] {
        guard !bytes.isEmpty else { return bytes }
        return Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &random)))
    }

    private mutating func insertInvalidUTF8(_ bytes: [UInt8]) -> [UInt8] {
        let sequences: [[UInt8]] = [
            [0xC3, 0x28], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0x80],
            [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82, 0x41],
        ]
        var result = bytes
        let position = Int.random(in: 0...result.count, using: &random)
        result.insert(contentsOf: pick(sequences), at: position)
        return result
    }

    private mutating func insertLongLine(_ bytes: [UInt8]) -> [UInt8] {
        let length = pick([70_000, 300_000, 1_100_000, 3_000_000])
        let filler: UInt8 = pick([UInt8(ascii: "x"), UInt8(ascii: "1"), UInt8(ascii: ",")])
        var result = bytes
        let lines = lineStarts(result)
        let position = pick(lines)
        result.insert(contentsOf: [UInt8](repeating: filler, count: length) + [0x0A], at: position)
        return result
    }

    private mutating func padToOversize(_ bytes: [UInt8]) -> [UInt8] {
        let comment = Array("# padding\n".utf8)
        let copies = pick([30_000, 110_000])
        var result = bytes
        result.reserveCapacity(bytes.count + comment.count * copies)
        for _ in 0..<copies { result += comment }
        return result
    }

    // MARK: - Line-level mutations

    private func lineStarts(_ bytes: [UInt8]) -> [Int] {
        var starts = [0]
        for (index, byte) in bytes.enumerated() where byte == 0x0A && index + 1 < bytes.count {
            starts.append(index + 1)
        }
        return starts
    }

    private func lineRange(_ bytes: [UInt8], startingAt start: Int) -> Range<Int> {
        var end = start
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        return start..<min(end + 1, bytes.count)
    }

    private mutating func duplicateLine(_ bytes: [UInt8]) -> [UInt8] {
        let range = lineRange(bytes, startingAt: pick(lineStarts(bytes)))
        var result = bytes
        result.insert(contentsOf: bytes[range], at: range.lowerBound)
        return result
    }

    private mutating func deleteLine(_ bytes: [UInt8]) -> [UInt8] {
        let range = lineRange(bytes, startingAt: pick(lineStarts(bytes)))
        var result = bytes
        result.removeSubrange(range)
        return result
    }

    private mutating func swapLines(_ bytes: [UInt8]) -> [UInt8] {
        let starts = lineStarts(bytes)
        let first = lineRange(bytes, startingAt: pick(starts))
        let second = lineRange(bytes, startingAt: pick(starts))
        guard first != second else { return bytes }
        let (earlier, later) = first.lowerBound < second.lowerBound ? (first, second) : (second, first)
        guard earlier.upperBound <= later.lowerBound else { return bytes }
        return Array(
            bytes[..<earlier.lowerBound] + bytes[later] + bytes[earlier.upperBound..<later.lowerBound]
                + bytes[earlier] + bytes[later.upperBound...])
    }

    /// Repeats a run of lines many times: thousands of steps, keys or rows.
    private mutating func repeatLines(_ bytes: [UInt8], maximumCopies: Int) -> [UInt8] {
        let starts = lineStarts(bytes)
        let first = Int.random(in: 0..<starts.count, using: &random)
        let last = min(starts.count - 1, first + Int.random(in: 0...4, using: &random))
        let range = starts[first]..<lineRange(bytes, startingAt: starts[last]).upperBound
        let copies = Int.random(in: 2...maximumCopies, using: &random)
        var block = Array(bytes[range])
        if block.last != 0x0A { block.append(0x0A) }
        var result = Array(bytes[..<range.lowerBound])
        result.reserveCapacity(bytes.count + block.count * copies)
        for _ in 0..<copies { result += block }
        result += bytes[range.upperBound...]
        return result
    }

    // MARK: - Values

    static let oddNumbers = [
        "1e300", "-1e300", "4294967296", "9223372036854775808", "1e-300", "0", "-0", "-0.5", "1e400", "nan", "inf",
        "-inf", "0x10", "1_000", "99999999999999999999999999", ".5", "5.", "1e", "--1", "+1",
    ]

    private mutating func replaceNumber(_ bytes: [UInt8]) -> [UInt8] {
        let digits = bytes.indices.filter { bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }
        guard !digits.isEmpty else { return bytes }
        var start = pick(digits)
        var end = start
        let numberByte: (UInt8) -> Bool = { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D || $0 == 0x65 }
        while start > 0, numberByte(bytes[start - 1]) { start -= 1 }
        while end < bytes.count, numberByte(bytes[end]) { end += 1 }
        var result = bytes
        result.replaceSubrange(start..<end, with: Array(pick(Self.oddNumbers).utf8))
        return result
    }

    // MARK: - YAML structure

    static let keys = [
        "schema", "name", "steps", "stop", "loop", "plate", "strip", "rest", "galvanostatic", "impedance", "cycles",
        "current", "current_density", "plating_current", "stripping_current", "start", "values", "increment",
        "maximum", "capacity", "duration", "voltage_limit", "parameters", "conditions", "stack_pressure",
        "temperature", "dendrite-short", "stack-pressure", "setpoint", "band", "hold", "metal-inventory",
        "thickness", "optional", "galvanostat", "driver", "port", "baud", "pressure_sensor", "pellet_area",
        "calibration", "cell", "limits", "electrode_area", "model", "preset", "x", "<<", "?", "-",
    ]

    static let values = [
        "1 mA/cm2", "1e300 mA/cm2", "0.5 mAh/cm2", "10 s", "-1 mA/cm2", "{}", "[]", "~", "null", "true", "$missing",
        "\"\"", "'", "|", ">", "*undefined", "&anchor 1", "!!binary AAAA", "!custom x", "5 V", "1 MHz", "2.5 MPa",
    ]

    private mutating func insertRandomKey(_ bytes: [UInt8]) -> [UInt8] {
        let start = pick(lineStarts(bytes))
        var indent = 0
        while start + indent < bytes.count, bytes[start + indent] == 0x20 { indent += 1 }
        let line = String(repeating: " ", count: indent) + "\(pick(Self.keys)): \(pick(Self.values))\n"
        var result = bytes
        result.insert(contentsOf: Array(line.utf8), at: start)
        return result
    }

    private mutating func insertDeepNesting(_ bytes: [UInt8]) -> [UInt8] {
        let depth = pick([40, 200, 1000, 5000, 100_000])
        let text: String
        switch Int.random(in: 0..<4, using: &random) {
        case 0: text = "deep: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
        case 1: text = "deep: " + String(repeating: "{a: ", count: depth) + String(repeating: "}", count: depth) + "\n"
        case 2: text = "steps:\n" + String(repeating: "- ", count: depth) + "x\n"
        default:
            let levels = min(depth, 1500)
            text =
                (0..<levels).map { String(repeating: " ", count: $0) + "a:\n" }.joined()
                + String(repeating: " ", count: levels) + "b: 1\n"
        }
        var result = bytes
        result.insert(contentsOf: Array(text.utf8), at: pick(lineStarts(bytes)))
        return result
    }

    /// The billion-laughs shape: anchors of anchors, used as a value and as a mapping key.
    private mutating func insertAliases(_ bytes: [UInt8]) -> [UInt8] {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        let levels = pick([3, 6, 9])
        for level in 1...levels {
            lines.append(
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        switch Int.random(in: 0..<3, using: &random) {
        case 0: lines.append("bomb: {? *a\(levels) : 1}")
        case 1: lines.append("steps: *a\(levels)")
        default: lines.append("parameters: {p: *a\(levels)}")
        }
        var result = bytes
        result.insert(contentsOf: Array((lines.joined(separator: "\n") + "\n").utf8), at: pick(lineStarts(bytes)))
        return result
    }

    /// A loop whose schedule is valid in form but absurd in size or direction.
    private mutating func insertHugeSchedule(_ bytes: [UInt8]) -> [UInt8] {
        let schedules = [
            "{start: 0.1 mA/cm2, increment: 0.1 mA/cm2, maximum: 1e300 mA/cm2}",
            "{start: 1 uA, increment: 1 uA, maximum: 4294967296 uA}",
            "{start: 1 mA/cm2, increment: -0.5 mA/cm2, maximum: 5 mA/cm2}",
            "{start: 1 mA/cm2, increment: 1e-300 mA/cm2, maximum: 2 mA/cm2}",
            "{values: [1 mA/cm2, 2 mA/cm2], increment: 1 mA/cm2, maximum: -9 mA/cm2}",
            "{start: 0 mA/cm2, increment: 0.001 mA/cm2, maximum: 1000 mA/cm2}",
        ]
        let cycles = pick(["", "      cycles: 100000\n", "      cycles: 99999999999\n"])
        let text =
            "steps:\n  - loop:\n" + cycles + "      current: \(pick(schedules))\n      steps:\n"
            + "        - plate: {capacity: 0.1 mAh/cm2}\n        - strip: {capacity: 0.1 mAh/cm2}\n"
        var result = bytes
        // Put the loop first in the seed's own `steps:` list, when there is one; its steps follow.
        if let range = range(of: Array("\nsteps:\n".utf8), in: result) {
            result.replaceSubrange(range, with: Array(("\n" + text).utf8))
        } else {
            result += Array(text.utf8)
        }
        return result
    }

    private func range(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return start..<(start + needle.count) }
        }
        return nil
    }

    // MARK: - CSV structure

    private mutating func insertRandomColumn(_ bytes: [UInt8]) -> [UInt8] {
        let names = ["time_s", "current_A", "voltage_V", "flags", "pressure_MPa", "extra", "", "\"q,uoted\""]
        let start = pick(lineStarts(bytes))
        var result = bytes
        result.insert(contentsOf: Array((pick(names) + ",").utf8), at: start)
        return result
    }
}
