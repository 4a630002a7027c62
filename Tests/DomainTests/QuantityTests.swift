import Domain
import Testing

@Suite("Quantities with units")
struct QuantityTests {
    @Test(
        "values convert to the canonical unit",
        arguments: [
            ("0.5 mA/cm2", Dimension.currentDensity, 0.5),
            ("2.2 uA/cm2", .currentDensity, 0.0022),
            ("-2 nA", .current, -2e-9),
            ("-2.2 µA", .current, -2.2e-6),
            ("10 s", .time, 10),
            ("1.5 h", .time, 5400),
            ("2 mV", .voltage, 0.002),
            ("1e-3 V", .voltage, 0.001),
            ("2.5 MPa", .pressure, 2.5),
            ("25 bar", .pressure, 2.5),
            ("293.15 K", .temperature, 20),
            ("21 Ohm cm2", .arealResistance, 21),
            ("0.5mAh/cm2", .arealCapacity, 0.5),
            ("5 mm2", .area, 0.05),
        ])
    func parses(text: String, dimension: Dimension, expected: Double) throws {
        let quantity = try Quantity.parse(text, as: dimension)
        #expect(abs(quantity.value - expected) <= abs(expected) * 1e-12)
        #expect(quantity.dimension == dimension)
    }

    @Test("a bare number is refused: every value states its unit")
    func bareNumber() {
        #expect(throws: QuantityError(text: "0.5", dimension: .currentDensity, problem: .missingUnit)) {
            try Quantity.parse("0.5", as: .currentDensity)
        }
    }

    @Test("a unit of another dimension is refused and the allowed units are listed")
    func wrongUnit() throws {
        do {
            _ = try Quantity.parse("0.5 mA", as: .currentDensity)
            Issue.record("0.5 mA parsed as a current density")
        } catch {
            #expect(error.problem == .unknownUnit("mA"))
            #expect(error.description.contains("mA/cm2"))
            #expect(error.description.contains("uA/cm2"))
        }
    }

    @Test("text that is not a number is refused")
    func notANumber() {
        #expect(throws: QuantityError.self) { try Quantity.parse("fast", as: .time) }
        #expect(throws: QuantityError.self) { try Quantity.parse("mA/cm2", as: .currentDensity) }
    }
}

@Suite("SHA-256 of protocol text")
struct SHA256Tests {
    @Test("matches the standard test vectors")
    func vectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(String(repeating: "a", count: 1000)).count == 64)
    }
}
