import Domain
import Foundation
import Replay
import TestSupport
import Testing

@Suite("Sample CSV reader")
struct SampleCSVTests {
    @Test("columns in any order, optional columns empty or absent, other columns ignored")
    func anyOrder() throws {
        let text = """
            voltage_V,note,time_s,current_A,temperature_C
            -0.1,a,1,-0.001,20.5
            -0.2,b,2,-0.001,

            """
        let samples = try SampleCSVReader.samples(in: text, source: "x.csv")
        #expect(samples.count == 2)
        #expect(samples[0].time_s == 1 && samples[0].current_A == -0.001 && samples[0].voltage_V == -0.1)
        #expect(samples[0].temperature_C == 20.5)
        #expect(samples[1].temperature_C == nil)
        #expect(samples[1].voltageWERE_V == nil && samples[1].pressure_MPa == nil)
    }

    @Test("a missing required column is named, on line 1")
    func missingColumn() throws {
        let error = try #require(throws: SampleCSVError.self) {
            try SampleCSVReader.samples(in: "time_s,voltage_V\n1,0.1\n", source: "x.csv")
        }
        #expect(error.line == 1)
        #expect(error.column == "current_A")
        #expect(error.description.hasPrefix("x.csv: line 1, column 'current_A'"))
    }

    @Test("text in a number field names the line and column")
    func textInNumber() throws {
        let text = "time_s,current_A,voltage_V,pressure_MPa\n1,0.001,0.1,2.5\n2,0.001,abc,2.5\n"
        let error = try #require(throws: SampleCSVError.self) {
            try SampleCSVReader.samples(in: text, source: "x.csv")
        }
        #expect(error.line == 3)
        #expect(error.column == "voltage_V")
        #expect(error.description.contains("'abc'"))
    }

    @Test("time that goes backwards is refused at the row where it does")
    func unsortedTime() throws {
        let text = "time_s,current_A,voltage_V\n1,0,0\n3,0,0\n2,0,0\n"
        let error = try #require(throws: SampleCSVError.self) {
            try SampleCSVReader.samples(in: text, source: "x.csv")
        }
        #expect(error.line == 4)
        #expect(error.column == "time_s")
    }

    @Test("a row with the wrong number of fields names its line")
    func fieldCount() throws {
        let text = "time_s,current_A,voltage_V\n1,0,0\n2,0\n"
        let error = try #require(throws: SampleCSVError.self) {
            try SampleCSVReader.samples(in: text, source: "x.csv")
        }
        #expect(error.line == 3)
        #expect(error.column == nil)
        #expect(error.description.contains("2 fields where the header has 3"))
    }

    @Test("an empty required field and a non-finite number are errors")
    func emptyRequiredAndNonFinite() throws {
        let empty = try #require(throws: SampleCSVError.self) {
            try SampleCSVReader.samples(in: "time_s,current_A,voltage_V\n1,,0\n", source: "x.csv")
        }
        #expect(empty.line == 2 && empty.column == "current_A")
        let infinite = try #require(throws: SampleCSVError.self) {
            try SampleCSVReader.samples(in: "time_s,current_A,voltage_V\n1,0,inf\n", source: "x.csv")
        }
        #expect(infinite.line == 2 && infinite.column == "voltage_V")
    }
}

@Suite("Sample CSV reader: bounded memory for any file")
struct BoundedSampleCSVTests {
    let header = "time_s,current_A,voltage_V\n"

    func scratchFile(_ name: String, _ text: String, size: UInt64? = nil) throws -> (URL, String) {
        let directory = try TestSupport.scratchDirectory()
        let path = directory.appendingPathComponent(name).path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        if let size {
            // Sparse: the rest of the file reads as zero bytes and takes no disk.
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.truncate(atOffset: size)
            try handle.close()
        }
        return (directory, path)
    }

    @Test("a single line of 100 MB is refused after reading one line's limit of it")
    func hugeLine() throws {
        let (directory, path) = try scratchFile("huge.csv", header + "1,0,0\n", size: 100_000_000)
        defer { try? FileManager.default.removeItem(at: directory) }
        var stream = try SampleCSVStream(path: path, source: "huge.csv")
        #expect(try stream.next()?.time_s == 1)
        let error = try #require(throws: SampleCSVError.self) { _ = try stream.next() }
        #expect(error.line == 3 && error.byteOffset == 33 + SampleCSVReader.maximumLineLength, "\(error)")
        #expect(error.description.hasPrefix("huge.csv: line 3: the line is longer than 65536 bytes"))
        #expect(stream.largestBufferHeld <= SampleCSVReader.maximumLineLength + 2 * SampleCSVReader.readChunkSize)
    }

    @Test("a metadata line may hold a whole protocol; beyond 2 MiB, or a data row beyond 64 KiB, is refused")
    func lineLimits() throws {
        let protocolText = String(repeating: "# a protocol line of some length\n", count: 4000)
        var metadata = CSVMetadata()
        metadata.protocolText = protocolText
        let file = try SampleCSVReader.read(metadata.text + header + "1,0,0\n", source: "m.csv")
        #expect(file.metadata.protocolText == protocolText && file.samples.count == 1)
        let longMetadata = "# note: \"" + String(repeating: "x", count: 3 << 20) + "\"\n"
        let metadataError = try #require(throws: SampleCSVError.self) {
            try SampleCSVReader.read(longMetadata + header, source: "m.csv")
        }
        #expect(metadataError.line == 1 && metadataError.message.contains("longer than 2097152 bytes"))
        let longRow = header + "1,0," + String(repeating: "0", count: 70_000) + "\n"
        let rowError = try #require(throws: SampleCSVError.self) { try SampleCSVReader.read(longRow, source: "r.csv") }
        #expect(rowError.line == 2 && rowError.byteOffset == header.utf8.count + 65_536)
    }

    @Test("invalid UTF-8 names the line, the character and the byte offset")
    func invalidUTF8() throws {
        var bytes = Array((header + "1,0,0\n2,0,").utf8)
        bytes += [0xFF]
        bytes += Array("0\n".utf8)
        let (directory, path) = try scratchFile("bad.csv", "")
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let error = try #require(throws: SampleCSVError.self) { try SampleCSVReader.read(contentsOfFile: path) }
        #expect(error.line == 3 && error.byteOffset == 37, "\(error)")
        #expect(error.message.contains("at character 5 (byte 0xFF never appears in UTF-8"), "\(error)")
    }

    @Test("a long recording streams from its file: every row read, memory bounded by the chunk size")
    func streaming() throws {
        var text = header
        let rows = 100_000
        text.reserveCapacity(rows * 24)
        for index in 0..<rows { text += "\(Double(index) * 0.1),-0.000196,-0.0\(index % 10)\n" }
        let (directory, path) = try scratchFile("long.csv", text)
        defer { try? FileManager.default.removeItem(at: directory) }
        var stream = try SampleCSVStream(path: path)
        var count = 0
        var last = -1.0
        while let sample = try stream.next() {
            count += 1
            last = sample.time_s
        }
        #expect(count == rows && last == Double(rows - 1) * 0.1)
        #expect(text.utf8.count > 20 * SampleCSVReader.readChunkSize)
        #expect(stream.largestBufferHeld <= 2 * SampleCSVReader.readChunkSize)
    }
}
