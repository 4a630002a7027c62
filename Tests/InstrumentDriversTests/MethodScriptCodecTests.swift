import InstrumentDrivers
import Testing

@Suite struct MethodScriptCodecTests {
    @Test func decodesTheVendorSamplePackage() throws {
        let variables = try MethodScriptVariable.package("Pda7F85F3Fu;ba48D503Dp,10,288")
        #expect(variables.map(\.type) == ["da", "ba"])
        #expect(abs(variables[0].value - -0.499905) < 1e-12)
        #expect(abs(variables[1].value - -57.847747e-6) < 1e-15)
        #expect(variables[1].status == 0)
        #expect(variables[1].range == 0x88)
        #expect(variables[0].status == nil)
    }

    @Test func decodesStatusBitsAndSmallValues() throws {
        let variables = try MethodScriptVariable.package("Pda84E63DAn;ba82AB973f,14,284")
        #expect(abs(variables[0].value - 5.137370e-3) < 1e-9)
        #expect(abs(variables[1].value - 2.799987e-9) < 1e-18)
        #expect(variables[1].status == 4)
        #expect(variables[1].range == 0x84)
        #expect(!variables[1].isOverloaded)
        #expect(try MethodScriptVariable(field: "ba8000001n,12").isOverloaded)
    }

    @Test(arguments: [
        ("ab800000Am", 0.01), ("ab7FFFFF6m", -0.01), ("ee8000001i", 1), ("eb80F4240u", 1.0), ("abDF5E100n", 0.1),
        ("ab83ABF10u", 3.85), ("ab8000000 ", 0), ("ab8000002k", 2000),
    ])
    func decodesValues(field: String, expected: Double) throws {
        let value = try MethodScriptVariable(field: Substring(field)).value
        #expect(abs(value - expected) <= 1e-12 * max(1, abs(expected)))
    }

    @Test func decodesNotANumber() throws {
        #expect(try MethodScriptVariable(field: "ab     nan").value.isNaN)
    }

    @Test(arguments: ["ab12", "AB8000000m", "ab800000Gz", "abXYZ0000m", "ab8000000m,1Z"])
    func rejectsMalformedFields(field: String) {
        #expect(throws: MethodScriptDecodingError.self) { try MethodScriptVariable(field: Substring(field)) }
    }

    @Test(arguments: [
        (250e-6, "250u"), (-250e-6, "-250u"), (5.850535, "5850535u"), (3600, "3600"), (-2, "-2"), (0, "0"),
        (0.1, "100m"), (1e-9, "1n"), (2.5, "2500m"), (36000, "36k"), (1.23456789e-4, "123456789p"),
    ])
    func formatsScriptLiteralsWithoutDecimalPoints(value: Double, literal: String) {
        #expect(MethodScriptLiteral.format(value) == literal)
    }

    @Test func classifiesStreamLines() throws {
        #expect(try MethodScriptStreamLine("") == .scriptEnded)
        #expect(try MethodScriptStreamLine("M000A") == .measurementLoopBegan("000A"))
        #expect(try MethodScriptStreamLine("*") == .measurementLoopEnded)
        #expect(try MethodScriptStreamLine("Tvlimit") == .text("vlimit"))
        #expect(try MethodScriptStreamLine("Z") == .acknowledgement("Z"))
        #expect(try MethodScriptStreamLine("Z!0006") == .commandError(command: "Z", code: 6, line: "Z!0006"))
        #expect(try MethodScriptStreamLine("!0032: Line 14") == .runtimeError(code: 0x32, line: "!0032: Line 14"))
        #expect(
            try MethodScriptStreamLine("e!4001: Line 3, Col 1")
                == .commandError(command: "e", code: 0x4001, line: "e!4001: Line 3, Col 1"))
        #expect(try MethodScriptStreamLine("R*") == .unrecognised("R*"))
    }
}
