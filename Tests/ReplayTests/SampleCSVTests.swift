import Domain
import Replay
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
