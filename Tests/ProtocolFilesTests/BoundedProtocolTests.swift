import Domain
import Foundation
import ProtocolFiles
import TestSupport
import Testing

/// Issue 11: whatever a protocol file says, reading it takes bounded work, and every refusal names the file, line,
/// column, key, value and what is allowed.
@Suite("Bounded protocol files: schedules and step counts")
struct BoundedScheduleTests {
    static let ccd = """
        schema: 1
        name: ccd
        steps:
          - loop:
              current:
                values: [0.05 mA/cm2, 0.1 mA/cm2]
                increment: 0.1 mA/cm2
                maximum: 10 mA/cm2
              steps:
                - plate: {capacity: 0.5 mAh/cm2}
                - strip: {capacity: 0.5 mAh/cm2}
        """

    func refusal(_ old: String, _ new: String, in text: String = ccd) throws -> FileError {
        let changed = text.replacingOccurrences(of: old, with: new)
        #expect(changed != text, "the replacement must change the text")
        return try #require(throws: FileError.self) { try ProtocolFile.parse(changed, file: "ccd.yaml") }
    }

    @Test("a maximum of 1e300 mA/cm2 (or 4294967296 uA) is refused at once, at the key, with the allowed range")
    func hugeMaximum() throws {
        let density = try refusal("maximum: 10 mA/cm2", "maximum: 1e300 mA/cm2")
        #expect(density.line == 8 && density.column == 18)
        #expect(density.key == "steps[0].loop.current.maximum")
        #expect(density.value == "1e300 mA/cm2")
        #expect(density.allowed == "-1000 to 1000 mA/cm2")
        let current = try refusal(
            "values: [0.05 mA/cm2, 0.1 mA/cm2]\n        increment: 0.1 mA/cm2\n        maximum: 10 mA/cm2",
            "values: [1 uA, 2 uA]\n        increment: 1 uA\n        maximum: 4294967296 uA")
        #expect(current.line == 8 && current.key == "steps[0].loop.current.maximum")
        #expect(current.allowed == "-10 to 10 A")
    }

    @Test("a schedule within range but millions of cycles long is counted arithmetically and refused at its maximum")
    func tooManyCycles() throws {
        let error = try refusal(
            "increment: 0.1 mA/cm2\n        maximum: 10 mA/cm2", "increment: 1e-9 mA/cm2\n        maximum: 1000 mA/cm2")
        #expect(error.line == 8 && error.key == "steps[0].loop.current.maximum")
        #expect(error.value == "1000 mA/cm2")
        #expect(error.problem.contains("999900001002 cycles of 2 steps"), "\(error)")
        #expect(error.allowed?.contains("within 50000 cycles") == true, "\(error)")
        // The arithmetic count behind it, from the domain type the plan uses.
        let schedule = CurrentSchedule(
            values: [.density_mA_cm2(0.05), .density_mA_cm2(0.1)], increment: .density_mA_cm2(1e-9),
            maximum: .density_mA_cm2(1000))
        #expect(schedule.cycleCount == 999_900_001_002)
        let endless = CurrentSchedule(
            values: [.density_mA_cm2(1)], increment: .density_mA_cm2(1e-300), maximum: .density_mA_cm2(1e300))
        #expect(endless.cycleCount == Int.max, "saturates instead of overflowing")
    }

    @Test("explicit cycles beyond the cap are refused at `cycles`")
    func tooManyExplicitCycles() throws {
        let error = try refusal(
            "      current:\n        values: [0.05 mA/cm2, 0.1 mA/cm2]\n        increment: 0.1 mA/cm2\n"
                + "        maximum: 10 mA/cm2\n",
            "      cycles: 60000\n      current: 1 mA/cm2\n")
        #expect(error.key == "steps[0].loop.cycles" && error.line == 5 && error.value == "60000")
        #expect(error.allowed == "at most 50000 cycles for a loop of 2 steps")
    }

    @Test("the cap counts every loop: the loop that passes it is named, with the steps before it")
    func cumulativeCap() throws {
        let error = try refusal(
            "steps:\n  - loop:\n      current:",
            "steps:\n  - loop:\n      cycles: 49950\n      steps: [rest: {duration: 1 s}, rest: {duration: 1 s}]\n"
                + "  - loop:\n      current:")
        #expect(error.key == "steps[1].loop" && error.line == 7 && error.column == 5, "\(error)")
        #expect(error.problem.contains("after 99900 steps before it"), "\(error)")
    }

    @Test("a schedule that moves towards zero, or whose maximum lies across zero, is refused with its position")
    func direction() throws {
        let negative = try refusal("increment: 0.1 mA/cm2", "increment: -0.5 mA/cm2")
        #expect(negative.line == 7 && negative.key == "steps[0].loop.current.increment")
        #expect(negative.allowed == "a positive increment")
        let zero = try refusal("increment: 0.1 mA/cm2", "increment: 0 mA/cm2")
        #expect(zero.line == 7 && zero.problem.contains("must not be zero"))
        let across = try refusal("maximum: 10 mA/cm2", "maximum: -10 mA/cm2")
        #expect(across.line == 8 && across.allowed == "a positive maximum")
        // A staircase of negative currents moves away from zero with a negative increment: accepted.
        let staircase = try ProtocolFile.parse(
            try TestSupport.readRepositoryFile("protocols/microelectrode-staircase.yaml"), file: "staircase.yaml")
        #expect(try StepPlan.stepCount(of: staircase.steps) == 24)
    }

    @Test("the plan refuses too many steps before building one, citing the step at fault")
    func planCap() throws {
        let rests = (0...StepPlan.maximumStepCount).map { index in
            ProtocolStep.rest(
                RestStep(
                    duration_s: 1, position: SourcePosition(line: index + 4, column: 5, key: "steps[\(index)].rest")))
        }
        let error = try #require(throws: PlanError.self) {
            try StepPlan(expanding: TestProtocol(name: "long", steps: rests), area_cm2: 1)
        }
        #expect(error.position?.line == StepPlan.maximumStepCount + 4)
        #expect(error.description(file: "long.yaml").hasPrefix("long.yaml:100004:5: steps[100000].rest: "))
        let unplaced = try #require(throws: PlanError.self) {
            try StepPlan.stepCount(of: rests.map { _ in ProtocolStep.rest(RestStep(duration_s: 1)) })
        }
        #expect(unplaced.position == nil && unplaced.message.hasPrefix("steps[100000]: "), "\(unplaced)")
    }
}

@Suite("Bounded protocol files: size, encoding and YAML structure")
struct BoundedYAMLTests {
    static let header = "schema: 1\nname: x\n"
    static let steps = "steps:\n  - rest: {duration: 1 s}\n"

    func refusal(_ text: String) throws -> FileError {
        try #require(throws: FileError.self) { try ProtocolFile.parse(text, file: "x.yaml") }
    }

    @Test("invalid UTF-8 names the line, column, byte offset and the bad byte")
    func invalidUTF8() throws {
        var bytes = Array((Self.header + "description: caf").utf8)
        bytes += [0xC3, 0x28]
        bytes += Array(("\n" + Self.steps).utf8)
        let error = try #require(throws: FileError.self) { try SourceText.decode(bytes, file: "protocols/x.yaml") }
        #expect(
            error.description
                == "protocols/x.yaml:3:17: the file is not valid UTF-8 (byte 0xC3 is not followed by a continuation "
                + "byte (next byte 0x28), at byte offset 34); allowed: UTF-8 text; save the file as UTF-8")
        let cases: [([UInt8], String)] = [
            ([0x61, 0x80], "0x80 is a continuation byte without a leading byte"),
            ([0xC0, 0xAF], "0xC0 never appears in UTF-8"),
            ([0xED, 0xA0, 0x80], "0xED begins an overlong form, a surrogate"),
            ([0xE2, 0x82], "0xE2 begins a character the file ends in the middle of"),
            ([0xFF], "0xFF never appears in UTF-8"),
        ]
        for (bad, reason) in cases {
            let error = try #require(throws: FileError.self) { try SourceText.decode(bad, file: "b.yaml") }
            #expect(error.line == 1 && error.problem.contains(reason), "\(error)")
        }
        // Characters of every length, and a byte-order mark, are fine.
        let fine: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("µ é ≤ 𝛼 ok".utf8)
        #expect(try SourceText.decode(fine, file: "f.yaml").hasSuffix("ok"))
    }

    @Test("a file beyond 256 KiB is refused before it is parsed, where it passes the limit")
    func oversized() throws {
        let padding = String(repeating: "# a comment line of thirty b\n", count: 10_000)
        let error = try refusal(Self.header + padding + Self.steps)
        #expect(error.line == 9041 && error.column == 25, "\(error)")
        #expect(error.allowed == "at most 262144 bytes")
        // Read from disk, a file of any size costs the limit: a sparse 1 GB file is refused just as fast.
        let directory = try TestSupport.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("huge.yaml").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 1 << 30)
        try handle.close()
        let fromDisk = try #require(throws: FileError.self) { try SourceText.read(path: path) }
        #expect(fromDisk.line == 1 && fromDisk.column == FileLimits.maximumFileSize + 1, "\(fromDisk)")
    }

    @Test("nesting deeper than 16 levels is refused at the level that passes it, in flow and block style")
    func nesting() throws {
        func nested(_ depth: Int) -> String {
            Self.header + Self.steps + "extra: " + String(repeating: "[", count: depth)
                + String(repeating: "]", count: depth) + "\n"
        }
        // 15 lists under the root mapping are 16 levels: the file is refused for its unknown key, not its depth.
        #expect(try refusal(nested(15)).problem.contains("unknown key 'extra'"))
        let deep = try refusal(nested(16))
        #expect(deep.line == 5 && deep.column == 23 && deep.problem.contains("nested more than 16 levels"), "\(deep)")
        let deeper = try refusal(nested(100_000 / 2))
        #expect(deeper.line == 5 && deeper.allowed == "at most 16 levels", "\(deeper)")
        let dashes = try refusal(Self.header + "steps:\n" + String(repeating: "- ", count: 5000) + "x\n")
        #expect(dashes.line == 4 && dashes.allowed == "at most 16 levels", "\(dashes)")
    }

    @Test("aliases count what they repeat: the billion laughs is refused at once, an alias key too")
    func aliases() throws {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1...9 {
            lines.append(
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        let laughs = try refusal(Self.header + lines.joined(separator: "\n") + "\n" + Self.steps)
        #expect(laughs.line == 7 && laughs.problem.contains("more than 100000 values"), "\(laughs)")
        let key = try refusal(Self.header + "a: &a [x]\nb: {? *a : 1}\n" + Self.steps)
        #expect(key.line == 4 && key.problem.contains("a mapping key must be a single value"), "\(key)")
        let undefined = try refusal(Self.header + "steps: *nothing\n")
        #expect(undefined.line == 3 && undefined.problem.contains("names no anchor"), "\(undefined)")
        // An alias of a step is fine.
        let reused = try ProtocolFile.parse(
            Self.header + "steps:\n  - plate: &half {current_density: 1 mA/cm2, duration: 1 h}\n  - strip: *half\n",
            file: "x.yaml")
        #expect(reused.steps.count == 2)
    }

    @Test("duplicate keys, control characters and a second document are placed")
    func structure() throws {
        let duplicate = try refusal(Self.header + "name: y\n" + Self.steps)
        #expect(duplicate.line == 3 && duplicate.column == 1 && duplicate.problem.contains("'name' is given twice"))
        let control = try refusal(Self.header + "description: a\u{7}b\n" + Self.steps)
        #expect(
            control.line == 3 && control.column == 15 && control.problem.contains("control characters"), "\(control)")
        let second = try refusal(Self.header + Self.steps + "---\nschema: 1\n")
        #expect(second.line == 5 && second.problem.contains("second YAML document"), "\(second)")
        let empty = try refusal("# nothing but a comment\n")
        #expect(empty.line == 1 && empty.column == 1 && empty.problem == "the file is empty")
    }

    @Test("a parameter the operator gives that the file lacks is placed at `parameters:`")
    func unknownParameter() throws {
        let text = Self.header + "parameters:\n  density: 1 mA/cm2\n" + Self.steps
        let error = try #require(throws: FileError.self) {
            try ProtocolFile.parse(text, file: "x.yaml", parameters: ["densty": "2 mA/cm2"])
        }
        #expect(error.line == 4 && error.column == 3 && error.allowed == "density", "\(error)")
    }
}
