import Domain
import Foundation
import Replay
import Testing

@Suite("Export formats: metadata block, flags, exact numbers, BDF")
struct ExportFormatTests {
    func recorded(_ seq: Int, _ sample: InstrumentSample) -> RecordedSample {
        RecordedSample(seq: seq, sample: sample, stepIndex: seq / 10, cycle: seq / 20 + 1)
    }

    @Test("written samples read back bit for bit: shortest round-trip numbers, flags, missing and non-finite values")
    func exactRoundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        var samples: [InstrumentSample] = []
        for index in 0..<2000 {
            let scale = pow(10, Double.random(in: -12...3, using: &generator))
            var sample = InstrumentSample(
                time_s: Double(index) * 0.1 + Double.random(in: 0..<0.01, using: &generator),
                current_A: Double.random(in: -1...1, using: &generator) * scale,
                voltage_V: Double.random(in: -5...5, using: &generator),
                voltageWERE_V: index % 3 == 0 ? nil : Double.random(in: -1...1, using: &generator) / 3,
                pressure_MPa: index % 5 == 0 ? nil : 2.5 + Double.random(in: -0.1...0.1, using: &generator),
                temperature_C: 20 + Double(index) * 1e-7)
            if index % 7 == 0 { sample.flags = [.overload, .pressureStale] }
            samples.append(sample)
        }
        samples[11].voltage_V = .nan
        samples[11].flags = [.nonFinite]
        let writer = SampleCSVWriter()
        var text = writer.headerLine
        for (index, sample) in samples.enumerated() { text += writer.row(for: recorded(index, sample)) }
        #expect(text.contains(",overload|pressure-stale\n"))
        let read = try SampleCSVReader.samples(in: text, source: "round.csv")
        #expect(read.count == samples.count)
        for (original, back) in zip(samples, read) where original.voltage_V.isFinite {
            #expect(back == original)
        }
        #expect(read[11].voltage_V.isNaN && read[11].flags == [.nonFinite])
    }

    @Test("the metadata block reads back whole, ahead of the header")
    func metadataRoundTrip() throws {
        var metadata = CSVMetadata()
        metadata.format = "cellrig-samples 1"
        metadata.runID = 7
        metadata.protocolName = "stripping-3e"
        metadata.protocolFile = "protocols/stripping-3e.yaml"
        metadata.protocolSHA256 = String(repeating: "ab", count: 32)
        metadata.parameters = ["current_density": "3 mA/cm2"]
        metadata.area_cm2 = 0.196
        metadata.threeElectrode = true
        metadata.cellLabel = "cell, \"7\""
        metadata.metal = "K"
        metadata.metalThickness_um = 300
        metadata.steps = [
            ExportedStep(index: 0, cycle: 1, kind: "plate", current_density_mA_cm2: 3),
            ExportedStep(index: 1, cycle: 1, kind: "strip", current_density_mA_cm2: 3),
        ]
        metadata.protocolText = "schema: 1\nname: x # with: a colon\n"
        let text = metadata.text + SampleCSVWriter().headerLine + "0,1,-1e-05,-0.1,,,,1,0,\n"
        #expect(text.hasPrefix("# format: \"cellrig-samples 1\"\n# run: 7\n"))
        let file = try SampleCSVReader.read(text, source: "m.csv")
        #expect(file.metadata == metadata)
        #expect(file.samples.count == 1)
    }

    @Test("bad flags and bad metadata name the line")
    func errors() throws {
        let header = SampleCSVWriter().headerLine
        let flag = try #require(throws: SampleCSVError.self) {
            try SampleCSVReader.samples(in: header + "0,1,0,0,,,,1,0,overload|sparks\n", source: "f.csv")
        }
        #expect(flag.line == 2 && flag.column == "flags" && flag.description.contains("pressure-missing"))
        let metadata = try #require(throws: SampleCSVError.self) {
            try SampleCSVReader.samples(in: "# run: 1\n# area_cm2: big\n" + header, source: "m.csv")
        }
        #expect(metadata.line == 2 && metadata.description.contains("area_cm2"))
    }

    @Test("a late sample may lie behind in time; any other must not")
    func lateSamples() throws {
        let header = SampleCSVWriter().headerLine
        let late = try SampleCSVReader.samples(
            in: header + "0,2,0,0,,,,1,0,\n1,1.5,0,0,,,,1,0,late\n2,3,0,0,,,,1,1,\n", source: "l.csv")
        #expect(late.map(\.time_s) == [2, 1.5, 3])
        #expect(throws: SampleCSVError.self) {
            try SampleCSVReader.samples(in: header + "0,2,0,0,,,,1,0,\n1,1.5,0,0,,,,1,0,\n", source: "l.csv")
        }
    }

    @Test("BDF rows carry the standard labels in SI units: pressure in Pa, step count from 1")
    func batteryDataFormat() {
        let writer = BDFWriter()
        #expect(writer.headerLine.hasPrefix("Test Time / s,Voltage / V,Current / A,Cycle Count / 1,Step Count / 1,"))
        let row = writer.row(
            for: RecordedSample(
                seq: 0,
                sample: InstrumentSample(
                    time_s: 12.5, current_A: -9.8e-6, voltage_V: -0.0225, pressure_MPa: 2.5, temperature_C: 20),
                stepIndex: 0, cycle: 1))
        #expect(row == "12.5,-0.0225,-9.8e-06,1,1,2500000.0,20.0,\n")
    }
}
