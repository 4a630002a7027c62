import Domain
import Engine
import Foundation
import ProtocolFiles
import Replay
import TestSupport
import Testing

/// What reading one fuzzed file gave: accepted, or an error with or without a position.
struct FuzzOutcome {
    var error: String?
    /// False for an error that names no line (and column, or byte offset for a CSV).
    var positioned = true
    /// Steps of the plan built from an accepted protocol.
    var stepsBuilt = 0
    /// Most bytes of a CSV held in memory at once.
    var bytesHeld = 0
}

/// Reads fuzzed files the way cellrig does: protocols through the parser and the engine built from them (plan and
/// criteria, as `cellrig validate` and the daemon do), rigs through the rig parser, CSVs streamed from a file.
enum FuzzPipeline {
    static func run(_ fuzz: FuzzCase, scratch: URL) -> FuzzOutcome {
        switch fuzz.kind {
        case .protocolFile: readProtocol(fuzz)
        case .rigFile: readRig(fuzz)
        case .sampleCSV: readCSV(fuzz, scratch: scratch)
        }
    }

    static func placed(_ error: FileError, file: String) -> FuzzOutcome {
        let positioned =
            error.line.map { $0 >= 1 } == true && error.column.map { $0 >= 1 } == true && error.file == file
            && error.description.hasPrefix("\(file):\(error.line ?? 0):\(error.column ?? 0): ")
        return FuzzOutcome(error: error.description, positioned: positioned)
    }

    static func readProtocol(_ fuzz: FuzzCase) -> FuzzOutcome {
        let testProtocol: TestProtocol
        do {
            let text = try SourceText.decode(fuzz.bytes, file: fuzz.fileName)
            testProtocol = try ProtocolFile.parse(text, file: fuzz.fileName)
        } catch {
            return placed(error, file: fuzz.fileName)
        }
        do {
            let engine = try RunEngine(protocol: testProtocol, area_cm2: 0.196)
            return FuzzOutcome(stepsBuilt: engine.plan.steps.count)
        } catch {
            let described = error.description(file: fuzz.fileName)
            let positioned = error.position.map { described.hasPrefix("\(fuzz.fileName):\($0.line):\($0.column): ") }
            return FuzzOutcome(error: described, positioned: positioned ?? false)
        }
    }

    static func readRig(_ fuzz: FuzzCase) -> FuzzOutcome {
        do {
            _ = try RigFile.parse(try SourceText.decode(fuzz.bytes, file: fuzz.fileName), file: fuzz.fileName)
            return FuzzOutcome()
        } catch {
            return placed(error, file: fuzz.fileName)
        }
    }

    static func readCSV(_ fuzz: FuzzCase, scratch: URL) -> FuzzOutcome {
        let path = scratch.appendingPathComponent("\(fuzz.index).csv").path
        guard FileManager.default.createFile(atPath: path, contents: Data(fuzz.bytes)) else {
            return FuzzOutcome(error: "the fuzz case could not be written to \(path)", positioned: false)
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        var held = 0
        do {
            var stream = try SampleCSVStream(path: path, source: fuzz.fileName)
            while try stream.next() != nil { held = max(held, stream.largestBufferHeld) }
            return FuzzOutcome(bytesHeld: max(held, stream.largestBufferHeld))
        } catch {
            let positioned =
                error.line >= 1 && error.source == fuzz.fileName
                && error.description.hasPrefix("\(fuzz.fileName): line \(error.line)")
            return FuzzOutcome(error: error.description, positioned: positioned, bytesHeld: held)
        }
    }
}

@Suite("Malformed protocol, rig and CSV files: bounded work, no crash, every error placed")
struct FileFuzzTests {
    /// `make soak` sets CELLRIG_FUZZ_CASES to a few thousand; `make test` runs a few hundred.
    static let soakCases = ProcessInfo.processInfo.environment["CELLRIG_FUZZ_CASES"].flatMap { Int($0) }
    static let caseCount = soakCases ?? 300
    static let seed = ProcessInfo.processInfo.environment["CELLRIG_FUZZ_SEED"].flatMap { UInt64($0) } ?? 11

    @Test("mutated files are refused with a position or accepted within the step cap; CSVs stream in bounded memory")
    func mutatedFiles() throws {
        let seeds = try Dictionary(
            uniqueKeysWithValues: FuzzedFileKind.allCases.map { ($0, try FuzzSeeds.seeds(for: $0)) })
        let scratch = try TestSupport.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        var mutator = FileMutator(seed: Self.seed)
        var accepted = 0
        var errors = 0
        var unplaced: [String] = []
        var slowest: (time: Duration, name: String, operations: [String]) = (.zero, "", [])
        var mostSteps = 0
        var mostBytesHeld = 0
        for index in 0..<Self.caseCount {
            let kind = FuzzedFileKind.allCases[index % FuzzedFileKind.allCases.count]
            let fuzz = mutator.makeCase(index: index, kind: kind, seeds: seeds[kind]!)
            let started = ContinuousClock.now
            let outcome = FuzzPipeline.run(fuzz, scratch: scratch)
            let elapsed = ContinuousClock.now - started
            if elapsed > slowest.time { slowest = (elapsed, fuzz.fileName, fuzz.operations) }
            mostSteps = max(mostSteps, outcome.stepsBuilt)
            mostBytesHeld = max(mostBytesHeld, outcome.bytesHeld)
            if let error = outcome.error {
                errors += 1
                if !outcome.positioned {
                    unplaced.append(
                        "\(fuzz.operations.joined(separator: "+")) on \(fuzz.seedName): \(error.prefix(300))")
                }
            } else {
                accepted += 1
            }
        }
        print(
            "file fuzz: seed \(Self.seed), \(Self.caseCount) cases, \(accepted) accepted, \(errors) refused, "
                + "\(unplaced.count) errors without a position; slowest case \(slowest.time) (\(slowest.name), "
                + "\(slowest.operations.joined(separator: "+"))); most steps built \(mostSteps); most CSV bytes held "
                + "\(mostBytesHeld)")
        #expect(
            unplaced.isEmpty, "errors without file, line and column:\n\(unplaced.prefix(20).joined(separator: "\n"))")
        // Work bounds, independent of how loaded the machine is.
        #expect(mostSteps <= StepPlan.maximumStepCount)
        #expect(mostBytesHeld <= SampleCSVReader.maximumMetadataLineLength + 2 * SampleCSVReader.readChunkSize)
        #expect(accepted > 0 && errors > 0, "the mutations must leave some files valid and break others")
        if Self.soakCases != nil {
            // The soak runs alone (make soak): there a case of over a second is a finding, not noise.
            #expect(slowest.time < .seconds(1), "slowest case: \(slowest.name) \(slowest.operations)")
        }
    }
}

@Suite("Soak: a long recording streams through the sample CSV reader")
struct LongRecordingSoak {
    /// Peak resident memory of this process so far, in MiB.
    static func peakMemory_MiB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024
    }

    @Test(
        "72 h at 0.1 s: 2.6 M rows read one line at a time, in bounded memory",
        .enabled(if: FileFuzzTests.soakCases != nil, "runs in `make soak`"))
    func seventyTwoHours() throws {
        let rows = 72 * 3600 * 10
        let scratch = try TestSupport.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let path = scratch.appendingPathComponent("72h.csv").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        var metadata = CSVMetadata()
        metadata.protocolText = FuzzSeeds.guardedProtocol
        metadata.area_cm2 = 0.196
        let writer = SampleCSVWriter()
        var chunk = metadata.text + writer.headerLine
        for seq in 0..<rows {
            let sample = InstrumentSample(
                time_s: Double(seq) / 10, current_A: seq % 2 == 0 ? -1.96e-4 : 1.96e-4,
                voltage_V: 0.0123 + Double(seq % 997) * 1e-6, pressure_MPa: 2.5, temperature_C: 20)
            chunk += writer.row(for: RecordedSample(seq: seq, sample: sample, stepIndex: seq / 36000, cycle: 1))
            if chunk.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(chunk.utf8))
                chunk = ""
            }
        }
        try handle.write(contentsOf: Data(chunk.utf8))
        try handle.close()
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        let before = Self.peakMemory_MiB()
        let started = ContinuousClock.now
        var stream = try SampleCSVStream(path: path)
        var count = 0
        while try stream.next() != nil { count += 1 }
        let streamed = ContinuousClock.now - started
        let afterStreaming = Self.peakMemory_MiB()
        let wholeStarted = ContinuousClock.now
        let file = try SampleCSVReader.read(contentsOfFile: path)
        let whole = ContinuousClock.now - wholeStarted
        print(
            "long recording: \(count) rows, \(size / 1_048_576) MiB; streamed in \(streamed) holding at most "
                + "\(stream.largestBufferHeld) bytes (peak memory \(before) -> \(afterStreaming) MiB); read into "
                + "\(file.samples.count) samples in \(whole) (peak memory \(Self.peakMemory_MiB()) MiB)")
        #expect(count == rows && file.samples.count == rows)
        #expect(stream.largestBufferHeld <= 2 * SampleCSVReader.readChunkSize)
    }
}
