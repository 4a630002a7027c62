import Domain
import Foundation
import ImpedanceAnalysis
import Testing

@Suite("Equivalent-circuit notation and evaluation")
struct EquivalentCircuitTests {
    @Test("the field's notation parses into elements and parameters and prints back canonically")
    func parsesNotation() throws {
        let circuit = try EquivalentCircuit(parsing: " R0 - p(R1, CPE1) - p(R2,CPE2)")
        #expect(circuit.description == "R0-p(R1,CPE1)-p(R2,CPE2)")
        #expect(circuit.elements.map(\.kind) == [.resistor, .resistor, .constantPhase, .resistor, .constantPhase])
        #expect(circuit.parameterNames == ["R0", "R1", "CPE1_Q", "CPE1_n", "R2", "CPE2_Q", "CPE2_n"])
        let randles = try EquivalentCircuit(parsing: "L0-R_s-p(C_dl,R_ct-W1)")
        #expect(randles.elements.map(\.kind) == [.inductor, .resistor, .capacitor, .resistor, .warburg])
        #expect(randles.description == "L0-R_s-p(C_dl,R_ct-W1)")
    }

    @Test(
        "bad notation is refused with the character position and what is wrong",
        arguments: [
            ("R0-p(R1,CPE1", 13, "not closed"),
            ("R0-Wo1", 4, "unknown element 'Wo1'"),
            ("R0-p(R1)", 4, "at least two branches"),
            ("R1-R1", 1, "used twice"),
            ("R0--R1", 4, "expected an element name"),
            ("", 1, "empty"),
            ("R0 R1", 4, "expected '-'"),
        ])
    func refusesBadNotation(text: String, position: Int, phrase: String) {
        #expect {
            _ = try EquivalentCircuit(parsing: text)
        } throws: { error in
            guard let error = error as? CircuitSyntaxError else { return false }
            return error.position == position && error.description.contains(phrase)
        }
    }

    @Test("an R || C arc is R/2 - iR/2 at omega = 1/RC; a CPE with n = 1 is that capacitor; W is 45 degrees")
    func evaluatesElements() throws {
        let arc = CircuitModel(try EquivalentCircuit(parsing: "p(R1,C1)"))
        let apex = 1 / (2 * Double.pi * 100 * 1e-6)
        let value = arc.impedance(atFrequency: apex, parameters: [100, 1e-6])
        #expect(abs(value.real - 50) < 1e-9 && abs(value.imaginary + 50) < 1e-9)
        let cpe = CircuitModel(try EquivalentCircuit(parsing: "p(R1,CPE1)"))
        let same = cpe.impedance(atFrequency: apex, parameters: [100, 1e-6, 1])
        #expect(abs(same.real - 50) < 1e-9 && abs(same.imaginary + 50) < 1e-9)
        let warburg = CircuitModel(try EquivalentCircuit(parsing: "W1")).impedance(atFrequency: 1, parameters: [10])
        #expect(abs(warburg.phase_deg + 45) < 1e-9)
        #expect(abs(warburg.real - 10 / (2 * Double.pi).squareRoot()) < 1e-12)
        let inductor = CircuitModel(try EquivalentCircuit(parsing: "R0-L0")).impedance(
            atFrequency: 1e6, parameters: [1, 1e-6])
        #expect(abs(inductor.imaginary - 2 * Double.pi) < 1e-9)
    }

    @Test("a circuit survives a JSON round trip as its text")
    func codable() throws {
        let circuit = try EquivalentCircuit(parsing: "R0-p(R1,CPE1)")
        let data = try JSONEncoder().encode(circuit)
        #expect(String(decoding: data, as: UTF8.self) == "\"R0-p(R1,CPE1)\"")
        #expect(try JSONDecoder().decode(EquivalentCircuit.self, from: data) == circuit)
        #expect(throws: DecodingError.self) {
            _ = try JSONDecoder().decode(EquivalentCircuit.self, from: Data("\"R0-\"".utf8))
        }
    }
}
