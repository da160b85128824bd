//! A positional binary serde format: integers little-endian at their width, lengths as `u64`,
//! structs as their fields in declaration order, enums as a `u32` variant index then the
//! variant's fields, options as a tag byte. Nothing in the bytes names a field or a type: the
//! format version in the file's header stands for the layout of every type written.
//!
//! Reading never allocates more than what the bytes left can hold: a length is checked against
//! the bytes remaining before anything is reserved for it.

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

/// What went wrong reading or writing, with the byte offset where reading stopped.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

impl de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// Writes `v` in this format.
pub fn to_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    append(v, &mut out)?;
    Ok(out)
}

/// Writes `v` in this format at the end of `out` (so that values written one after the other
/// share one buffer).
pub fn append<T: Serialize>(v: &T, out: &mut Vec<u8>) -> Result<(), Error> {
    let mut w = Writer(std::mem::take(out));
    let done = v.serialize(&mut w);
    *out = w.0;
    done
}

/// Reads a `T` from all of `bytes`; bytes left over are an error.
pub fn from_bytes<'de, T: de::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, Error> {
    let mut r = Reader { bytes, pos: 0 };
    let v = T::deserialize(&mut r).map_err(|e| Error(format!("at byte {}: {e}", r.pos)))?;
    if r.pos != bytes.len() {
        return Err(Error(format!("{} bytes left over", bytes.len() - r.pos)));
    }
    Ok(v)
}

struct Writer(Vec<u8>);

impl Writer {
    fn len(&mut self, n: usize) {
        self.0.extend_from_slice(&(n as u64).to_le_bytes());
    }
}

macro_rules! put {
    ($($f:ident $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result<(), Error> {
            self.0.extend_from_slice(&v.to_le_bytes());
            Ok(())
        }
    )*};
}

impl ser::Serializer for &mut Writer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    put!(serialize_i8 i8, serialize_i16 i16, serialize_i32 i32, serialize_i64 i64,
        serialize_u8 u8, serialize_u16 u16, serialize_u32 u32, serialize_u64 u64,
        serialize_f32 f32, serialize_f64 f64, serialize_i128 i128, serialize_u128 u128);

    fn is_human_readable(&self) -> bool {
        false
    }
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.serialize_u8(v as u8)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_u32(v as u32)
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.serialize_bytes(v.as_bytes())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.len(v.len());
        self.0.extend_from_slice(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_u8(0)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<(), Error> {
        self.serialize_u8(1)?;
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, i: u32, _: &'static str) -> Result<(), Error> {
        self.serialize_u32(i)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        i: u32,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.serialize_u32(i)?;
        v.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, Error> {
        let n = len.ok_or_else(|| Error("a sequence of unknown length".into()))?;
        self.len(n);
        Ok(self)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self, Error> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        i: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Error> {
        self.serialize_u32(i)?;
        Ok(self)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, Error> {
        self.serialize_seq(len)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        i: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Error> {
        self.serialize_u32(i)?;
        Ok(self)
    }
}

macro_rules! compound {
    ($($tr:ident $f:ident),*) => {$(
        impl ser::$tr for &mut Writer {
            type Ok = ();
            type Error = Error;
            fn $f<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
                v.serialize(&mut **self)
            }
            fn end(self) -> Result<(), Error> {
                Ok(())
            }
        }
    )*};
}

compound!(SerializeSeq serialize_element, SerializeTuple serialize_element,
    SerializeTupleStruct serialize_field, SerializeTupleVariant serialize_field);

impl ser::SerializeMap for &mut Writer {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, k: &T) -> Result<(), Error> {
        k.serialize(&mut **self)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), Error> {
        v.serialize(&mut **self)
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

macro_rules! fields {
    ($($tr:ident),*) => {$(
        impl ser::$tr for &mut Writer {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                _: &'static str,
                v: &T,
            ) -> Result<(), Error> {
                v.serialize(&mut **self)
            }
            fn end(self) -> Result<(), Error> {
                Ok(())
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

struct Reader<'de> {
    bytes: &'de [u8],
    pos: usize,
}

impl<'de> Reader<'de> {
    fn take(&mut self, n: usize) -> Result<&'de [u8], Error> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(Error(format!(
                "{n} bytes needed, {left} left (the file is truncated or corrupt)"
            )));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let s = self.take(N)?;
        Ok(s.try_into().expect("take gives N bytes"))
    }
    /// A length, refused when even one byte per item would run past the end.
    fn len(&mut self) -> Result<usize, Error> {
        let n = u64::from_le_bytes(self.array()?);
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return Err(Error(format!(
                "a length of {n} with {left} bytes left (the file is truncated or corrupt)"
            )));
        }
        Ok(n as usize)
    }
    fn bytes_value(&mut self) -> Result<&'de [u8], Error> {
        let n = self.len()?;
        self.take(n)
    }
    fn str_value(&mut self) -> Result<&'de str, Error> {
        std::str::from_utf8(self.bytes_value()?).map_err(|e| Error(format!("text: {e}")))
    }
}

macro_rules! get {
    ($($f:ident $t:ident $visit:ident),*) => {$(
        fn $f<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            v.$visit($t::from_le_bytes(self.array()?))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = Error;

    get!(deserialize_i8 i8 visit_i8, deserialize_i16 i16 visit_i16,
        deserialize_i32 i32 visit_i32, deserialize_i64 i64 visit_i64,
        deserialize_u8 u8 visit_u8, deserialize_u16 u16 visit_u16,
        deserialize_u32 u32 visit_u32, deserialize_u64 u64 visit_u64,
        deserialize_f32 f32 visit_f32, deserialize_f64 f64 visit_f64,
        deserialize_i128 i128 visit_i128, deserialize_u128 u128 visit_u128);

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(Error("the format names no types".into()))
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(Error("the format names no types".into()))
    }
    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.array::<1>()?[0] {
            0 => v.visit_bool(false),
            1 => v.visit_bool(true),
            b => Err(Error(format!("{b} is not a boolean"))),
        }
    }
    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let c = u32::from_le_bytes(self.array()?);
        v.visit_char(char::from_u32(c).ok_or_else(|| Error(format!("{c} is not a character")))?)
    }
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_borrowed_str(self.str_value()?)
    }
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_borrowed_bytes(self.bytes_value()?)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(v)
    }
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.array::<1>()?[0] {
            0 => v.visit_none(),
            1 => v.visit_some(self),
            b => Err(Error(format!("{b} is not an option tag"))),
        }
    }
    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let n = self.len()?;
        v.visit_seq(Items { r: self, left: n })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, n: usize, v: V) -> Result<V::Value, Error> {
        v.visit_seq(Items { r: self, left: n })
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        n: usize,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(n, v)
    }
    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let n = self.len()?;
        v.visit_map(Items { r: self, left: n })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(fields.len(), v)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_enum(self)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(Error("the format names no fields".into()))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The items of a sequence, tuple, struct or map still to read.
struct Items<'a, 'de> {
    r: &'a mut Reader<'de>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.r).map(Some)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::MapAccess<'de> for Items<'_, 'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.r).map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        seed.deserialize(&mut *self.r)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::EnumAccess<'de> for &mut Reader<'de> {
    type Error = Error;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let i = u32::from_le_bytes(self.array()?);
        let v = seed.deserialize(i.into_deserializer())?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for &mut Reader<'de> {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, n: usize, v: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_tuple(self, n, v)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_tuple(self, fields.len(), v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    enum Hop {
        Drop,
        Next(u32),
        Rewrite { to: u32, port: u16 },
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Table {
        name: String,
        hops: Vec<Hop>,
        cut: Option<(u8, bool)>,
    }

    #[test]
    fn values_read_back_as_written() {
        let t = Table {
            name: "rt-spoke".into(),
            hops: vec![Hop::Drop, Hop::Next(7), Hop::Rewrite { to: 9, port: 443 }],
            cut: Some((24, true)),
        };
        let b = to_bytes(&t).unwrap();
        // 8 + 8 name, 8 count, 4 + (4 + 4) + (4 + 4 + 2) hops, 1 + 1 + 1 option.
        assert_eq!(b.len(), 16 + 8 + 22 + 3);
        assert_eq!(from_bytes::<Table>(&b).unwrap(), t);
    }

    #[test]
    fn a_classifier_read_back_classifies_as_the_one_built() {
        // 300 rules, each a /24 and a destination port range of its own, so that the port
        // field has more intervals than a search is kept for (a 65,536-entry direct table), and
        // the last rule catches everything: every key gets the rule the built classifier gives.
        use vnetsim_classify::{Classifier, Key, Protocols, Rule};
        let mut rules: Vec<Rule> = (0..300u32)
            .map(|i| Rule {
                protocols: Protocols::Set(vec![[6, 17][i as usize % 2]]),
                src: vec![(0x0a00_0000 | i << 8, 24)],
                dst: vec![(0, 0)],
                sport: vec![(0, 65535)],
                dport: vec![(1000 + 7 * i as u16, 1003 + 7 * i as u16)],
            })
            .collect();
        rules.push(Rule::any());
        let built = Classifier::build(&rules);
        let back: Classifier = from_bytes(&to_bytes(&built).unwrap()).unwrap();
        let mut differ = 0;
        for i in 0..20_000u32 {
            let k = Key {
                proto: [6, 17, 1][i as usize % 3],
                src: 0x0a00_0000 | ((i * 37 % 310) << 8) | (i % 256),
                dst: i.wrapping_mul(2_654_435_761),
                sport: i as u16,
                dport: 990 + (i * 13 % 2200) as u16,
            };
            differ += (back.classify(&k) != built.classify(&k)) as u32;
        }
        assert_eq!(differ, 0);
        // A key the 7th rule matches, and one only the catch-all does.
        let key = |src, dport| Key {
            proto: 17,
            src,
            dst: 1,
            sport: 5,
            dport,
        };
        assert_eq!(back.classify(&key(0x0a00_0704, 1050)), Some(7));
        assert_eq!(back.classify(&key(0x0a00_0704, 1054)), Some(300));
    }

    #[test]
    fn a_length_past_the_end_is_refused_before_anything_is_reserved() {
        let mut b = to_bytes(&vec![1u32, 2, 3]).unwrap();
        b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        let e = from_bytes::<Vec<u32>>(&b).unwrap_err().to_string();
        assert!(e.contains("with 12 bytes left"), "{e}");
        let e = from_bytes::<Vec<u32>>(&b[..10]).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }
}
