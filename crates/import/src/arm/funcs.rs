//! ARM template functions, evaluated offline. Lazy ones (`if`, `and`, `or`,
//! lambdas, `copyIndex`, `parameters`, `variables`, `reference`) see their
//! arguments unevaluated; the rest are pure functions of values.

use std::net::Ipv4Addr;

use super::eval::{obj, placed, show, Dep, Env, RefInfo, R};
use super::expr::{Expr, E};
use super::Arm;
use crate::json::{Json, Pos, Val};

/// Largest array `range()` builds.
const MAX_RANGE: i64 = 100_000;

impl Arm<'_> {
    pub(crate) fn call(
        &mut self,
        d: &mut Dep,
        env: &Env,
        name: &str,
        args: &[E],
        pos: Pos,
        at: Pos,
    ) -> R<(Val, Option<RefInfo>)> {
        let lname = name.to_ascii_lowercase();
        match lname.as_str() {
            "if" => {
                self.arity(name, args, 3, 3, pos)?;
                let (c, _) = self.eval(d, env, &args[0], at)?;
                match c.as_bool() {
                    Some(true) => self.eval(d, env, &args[1], at),
                    Some(false) => self.eval(d, env, &args[2], at),
                    None if matches!(c.v, Json::Unknown(_)) => Ok((c, None)),
                    None => self.fail(pos, format!("if() needs a boolean condition, found {}", c.describe())),
                }
            }
            "and" | "or" => {
                let want = lname == "or";
                for a in args {
                    let (v, _) = self.eval(d, env, a, at)?;
                    if matches!(v.v, Json::Unknown(_)) {
                        return Ok((v, None));
                    }
                    if v.as_bool() == Some(want) {
                        return Ok((Val::new(Json::Bool(want), pos), None));
                    }
                }
                Ok((Val::new(Json::Bool(!want), pos), None))
            }
            "parameters" => {
                let n = self.str_arg(d, env, args, 0, at, name)?;
                if let Some(fp) = &env.fn_params {
                    if let Some((_, v)) = fp.iter().find(|(k, _)| k.eq_ignore_ascii_case(&n)) {
                        return Ok((v.clone(), None));
                    }
                }
                self.parameter(d, &n, pos).map(|v| (placed(v, pos), None))
            }
            "variables" => {
                let n = self.str_arg(d, env, args, 0, at, name)?;
                self.variable(d, &n, pos).map(|v| (placed(v, pos), None))
            }
            "copyindex" => self.copy_index(d, env, args, pos, at),
            "lambdavariables" => {
                let n = self.str_arg(d, env, args, 0, at, name)?;
                match env.lambdas.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(&n)) {
                    Some((_, v)) => Ok((v.clone(), None)),
                    None => self.fail(pos, format!("lambda variable '{n}' is not in scope")),
                }
            }
            "map" | "filter" | "reduce" | "sort" | "toobject" | "mapvalues" | "groupby" => self.higher(d, env, &lname, args, pos, at).map(|v| (v, None)),
            "lambda" => self.fail(pos, "lambda() may only be an argument of map, filter, reduce, sort, toObject, mapValues or groupBy"),
            "reference" => self.reference(d, env, args, pos, at),
            _ => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.eval(d, env, a, at)?.0);
                }
                if let Some(u) = vals.iter().find(|v| matches!(v.v, Json::Unknown(_))) {
                    if !matches!(lname.as_str(), "coalesce" | "trygetx") {
                        return Ok((u.clone(), None));
                    }
                }
                if let Some(f) = d.funcs.get(&lname).cloned() {
                    return self.user_function(d, name, &f, vals, pos).map(|v| (v, None));
                }
                self.pure(d, name, &lname, vals, pos).map(|v| (v, None))
            }
        }
    }

    fn arity(&mut self, name: &str, args: &[E], lo: usize, hi: usize, pos: Pos) -> R<()> {
        if args.len() < lo || args.len() > hi {
            let want = if lo == hi {
                lo.to_string()
            } else {
                format!("{lo} to {hi}")
            };
            return self.fail(
                pos,
                format!("{name}() takes {want} arguments, found {}", args.len()),
            );
        }
        Ok(())
    }

    fn str_arg(
        &mut self,
        d: &mut Dep,
        env: &Env,
        args: &[E],
        i: usize,
        at: Pos,
        name: &str,
    ) -> R<String> {
        let Some(a) = args.get(i) else {
            return self.fail(at, format!("{name}() needs an argument"));
        };
        let (v, _) = self.eval(d, env, a, at)?;
        match v.as_str() {
            Some(s) => Ok(s.to_string()),
            None => self.fail(
                v.pos,
                format!("{name}() needs a string, found {}", v.describe()),
            ),
        }
    }

    fn copy_index(
        &mut self,
        d: &mut Dep,
        env: &Env,
        args: &[E],
        pos: Pos,
        at: Pos,
    ) -> R<(Val, Option<RefInfo>)> {
        let mut loop_name: Option<String> = None;
        let mut offset = 0;
        for a in args {
            let (v, _) = self.eval(d, env, a, at)?;
            match &v.v {
                Json::Str(s) => loop_name = Some(s.clone()),
                _ => offset = v.as_i64().unwrap_or(0),
            }
        }
        let found = match &loop_name {
            Some(n) => env
                .copy
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(n)),
            None => env.copy.last(),
        };
        match found {
            Some((_, i)) => Ok((Val::new(Json::Int(i + offset), pos), None)),
            None => self.fail(pos, "copyIndex() used outside a copy loop"),
        }
    }

    /// `map`, `filter`, `reduce`, `sort`, `toObject`, `mapValues`, `groupBy` with lambdas.
    fn higher(&mut self, d: &mut Dep, env: &Env, f: &str, args: &[E], pos: Pos, at: Pos) -> R<Val> {
        if args.len() < 2 {
            return self.fail(pos, format!("{f}() needs at least 2 arguments"));
        }
        let (input, _) = self.eval(d, env, &args[0], at)?;
        if matches!(input.v, Json::Unknown(_)) {
            return Ok(input);
        }
        let items: Vec<Val> = match &input.v {
            Json::Arr(a) => a.clone(),
            Json::Obj(o) if f == "mapvalues" => o.iter().map(|(_, v)| v.clone()).collect(),
            Json::Null => Vec::new(),
            _ => {
                return self.fail(
                    input.pos,
                    format!("{f}() needs an array, found {}", input.describe()),
                )
            }
        };
        match f {
            "map" => {
                let mut out = Vec::new();
                for (i, x) in items.into_iter().enumerate() {
                    out.push(self.apply(d, env, &args[1], &[x, int(i as i64, pos)], at)?);
                }
                Ok(Val::new(Json::Arr(out), pos))
            }
            "filter" => {
                let mut out = Vec::new();
                for (i, x) in items.into_iter().enumerate() {
                    if self
                        .apply(d, env, &args[1], &[x.clone(), int(i as i64, pos)], at)?
                        .as_bool()
                        == Some(true)
                    {
                        out.push(x);
                    }
                }
                Ok(Val::new(Json::Arr(out), pos))
            }
            "reduce" => {
                let Some(l) = args.get(2) else {
                    return self.fail(pos, "reduce() needs 3 arguments");
                };
                let (mut acc, _) = self.eval(d, env, &args[1], at)?;
                for (i, x) in items.into_iter().enumerate() {
                    acc = self.apply(d, env, l, &[acc, x, int(i as i64, pos)], at)?;
                }
                Ok(acc)
            }
            "sort" => {
                let mut v = items;
                // Insertion sort with the lambda as "a before b" (bounded by the fuel budget).
                for i in 1..v.len() {
                    let mut j = i;
                    while j > 0
                        && self
                            .apply(d, env, &args[1], &[v[j].clone(), v[j - 1].clone()], at)?
                            .as_bool()
                            == Some(true)
                    {
                        v.swap(j, j - 1);
                        j -= 1;
                    }
                }
                Ok(Val::new(Json::Arr(v), pos))
            }
            "mapvalues" => {
                let keys: Vec<String> = input
                    .as_obj()
                    .unwrap_or(&[])
                    .iter()
                    .map(|(k, _)| k.clone())
                    .collect();
                let mut out = Vec::new();
                for (k, x) in keys.into_iter().zip(items) {
                    out.push((k, self.apply(d, env, &args[1], &[x], at)?));
                }
                Ok(Val::new(Json::Obj(out), pos))
            }
            "groupby" => {
                let mut out: Vec<(String, Val)> = Vec::new();
                for x in items {
                    let k = self.apply(d, env, &args[1], std::slice::from_ref(&x), at)?;
                    let k = k.as_str().map(str::to_string).unwrap_or_else(|| show(&k));
                    match out.iter_mut().find(|(n, _)| *n == k) {
                        Some((
                            _,
                            Val {
                                v: Json::Arr(a), ..
                            },
                        )) => a.push(x),
                        _ => out.push((k, Val::new(Json::Arr(vec![x]), pos))),
                    }
                }
                Ok(Val::new(Json::Obj(out), pos))
            }
            _ => {
                let mut out = Vec::new();
                for x in items {
                    let k = self.apply(d, env, &args[1], std::slice::from_ref(&x), at)?;
                    let Some(k) = k.as_str().map(str::to_string) else {
                        return self.fail(pos, "toObject() key lambda must return a string");
                    };
                    let v = match args.get(2) {
                        Some(l) => self.apply(d, env, l, &[x], at)?,
                        None => x,
                    };
                    out.push((k, v));
                }
                Ok(Val::new(Json::Obj(out), pos))
            }
        }
    }

    /// Applies `lambda('a', 'b', body)` to values (extra values are ignored).
    fn apply(&mut self, d: &mut Dep, env: &Env, l: &E, vals: &[Val], at: Pos) -> R<Val> {
        let Expr::Call(n, largs) = &l.k else {
            return self.fail(
                Pos {
                    col: at.col + l.off as u32,
                    ..at
                },
                "expected a lambda() here",
            );
        };
        if !n.eq_ignore_ascii_case("lambda") || largs.is_empty() {
            return self.fail(
                Pos {
                    col: at.col + l.off as u32,
                    ..at
                },
                "expected a lambda() here",
            );
        }
        let (body, names) = largs.split_last().expect("not empty");
        let mut e = env.clone();
        for (i, ne) in names.iter().enumerate() {
            let Expr::Str(name) = &ne.k else {
                return self.fail(
                    Pos {
                        col: at.col + ne.off as u32,
                        ..at
                    },
                    "lambda variable names must be string literals",
                );
            };
            if let Some(v) = vals.get(i) {
                e.lambdas.push((name.clone(), v.clone()));
            }
        }
        self.eval(d, &e, body, at).map(|(v, _)| v)
    }

    fn user_function(
        &mut self,
        d: &mut Dep,
        name: &str,
        f: &Val,
        vals: Vec<Val>,
        pos: Pos,
    ) -> R<Val> {
        let names: Vec<String> = f
            .key("parameters")
            .and_then(Val::as_arr)
            .unwrap_or(&[])
            .iter()
            .filter_map(|p| p.key("name").and_then(Val::as_str).map(str::to_string))
            .collect();
        let Some(body) = f.path(&["output", "value"]).cloned() else {
            return self.fail(pos, format!("user function '{name}' has no output value"));
        };
        let env = Env {
            fn_params: Some(names.into_iter().zip(vals).collect()),
            ..Env::default()
        };
        if self.nesting >= super::eval::MAX_EVAL_NESTING {
            return self.fail(
                pos,
                format!(
                    "user functions nest deeper than {} levels",
                    super::eval::MAX_EVAL_NESTING
                ),
            );
        }
        self.nesting += 1;
        let r = self.value(d, &env, &body);
        self.nesting -= 1;
        r
    }

    /// `reference(nameOrId)`: a resource or deployment declared in the template set.
    fn reference(
        &mut self,
        d: &mut Dep,
        env: &Env,
        args: &[E],
        pos: Pos,
        at: Pos,
    ) -> R<(Val, Option<RefInfo>)> {
        let Some(a) = args.first() else {
            return self.fail(pos, "reference() needs an argument");
        };
        let (target, _) = self.eval(d, env, a, at)?;
        let Some(t) = target.as_str().map(str::to_string) else {
            return Ok((target, None));
        };
        let Some(i) = find_instance(d, &t) else {
            if let Some(info) = self.registry.get(&t.to_ascii_lowercase()).cloned() {
                return Ok((placed(info.body.clone(), pos), Some(info)));
            }
            let u = format!("reference('{t}') names a resource outside the template set; its properties are only known after deployment");
            return Ok((Val::new(Json::Unknown(u), pos), None));
        };
        let mut v = self.instance(d, i)?;
        // reference(x, apiVersion, 'Full'): the whole resource, properties under `properties`.
        if args.len() >= 3 {
            let (mode, _) = self.eval(d, env, &args[2], at)?;
            if mode
                .as_str()
                .is_some_and(|m| m.eq_ignore_ascii_case("full"))
            {
                v = obj(vec![("properties", v)], pos);
            }
        }
        let inst = &d.instances[i];
        let is_dep = inst
            .type_name
            .eq_ignore_ascii_case("Microsoft.Resources/deployments");
        let info = (!is_dep).then(|| RefInfo {
            name: inst.name.clone(),
            type_name: inst.type_name.clone(),
            body: v.clone(),
        });
        Ok((placed(v, pos), info))
    }

    /// The pure functions.
    fn pure(&mut self, d: &Dep, name: &str, f: &str, a: Vec<Val>, pos: Pos) -> R<Val> {
        let s = |i: usize| a.get(i).and_then(|v| v.as_str()).map(str::to_string);
        let n = |i: usize| a.get(i).and_then(|v| v.as_i64());
        let v = match f {
            "true" => Json::Bool(true),
            "false" => Json::Bool(false),
            "null" => Json::Null,
            "concat" => concat(&a),
            "format" => Json::Str(format_fn(&a)),
            "string" => Json::Str(a.first().map(to_text).unwrap_or_default()),
            "int" => match a.first().and_then(Val::as_i64) {
                Some(i) => Json::Int(i),
                None => return self.fail(pos, "int() needs a number or a numeric string"),
            },
            "bool" => match a.first().and_then(Val::as_bool) {
                Some(b) => Json::Bool(b),
                None => Json::Bool(a.first().and_then(Val::as_i64).is_some_and(|i| i != 0)),
            },
            "json" => match s(0).map(|t| crate::json::parse(&t, pos.file)) {
                Some(Ok(v)) => v.v,
                _ => return self.fail(pos, "json() needs a valid JSON string"),
            },
            "array" => match a.first().map(|v| &v.v) {
                Some(Json::Arr(x)) => Json::Arr(x.clone()),
                Some(_) => Json::Arr(vec![a[0].clone()]),
                None => Json::Arr(vec![]),
            },
            "createarray" => Json::Arr(a),
            "createobject" => {
                if !a.len().is_multiple_of(2) {
                    return self.fail(pos, "createObject() needs key, value pairs");
                }
                Json::Obj(
                    a.chunks(2)
                        .map(|p| (to_text(&p[0]), p[1].clone()))
                        .collect(),
                )
            }
            "coalesce" => {
                return Ok(a
                    .into_iter()
                    .find(|v| !v.is_null())
                    .unwrap_or_else(|| Val::null(pos)))
            }
            "equals" => Json::Bool(a.len() == 2 && same(&a[0], &a[1])),
            "not" => Json::Bool(!a.first().and_then(Val::as_bool).unwrap_or(false)),
            "empty" => Json::Bool(a.first().is_none_or(is_empty)),
            "length" => Json::Int(a.first().map(len).unwrap_or(0)),
            "contains" => Json::Bool(a.len() == 2 && contains(&a[0], &a[1])),
            "union" => union(&a),
            "intersection" => intersection(&a),
            "first" => return Ok(first_last(a.first(), true, pos)),
            "last" => return Ok(first_last(a.first(), false, pos)),
            "take" | "skip" => take_skip(a.first(), n(1).unwrap_or(0), f == "take"),
            "flatten" => Json::Arr(
                a.first()
                    .and_then(Val::as_arr)
                    .unwrap_or(&[])
                    .iter()
                    .flat_map(|x| {
                        x.as_arr()
                            .map(<[Val]>::to_vec)
                            .unwrap_or_else(|| vec![x.clone()])
                    })
                    .collect(),
            ),
            "items" => items(a.first(), pos),
            "objectkeys" => Json::Arr(
                a.first()
                    .and_then(Val::as_obj)
                    .unwrap_or(&[])
                    .iter()
                    .map(|(k, _)| Val::str(k.clone(), pos))
                    .collect(),
            ),
            "shallowmerge" => union_objects(a.first().and_then(Val::as_arr).unwrap_or(&[]), false),
            "range" => {
                let (lo, c) = (n(0).unwrap_or(0), n(1).unwrap_or(0));
                if !(0..=MAX_RANGE).contains(&c) {
                    return self.fail(pos, format!("range() count {c} is outside 0..{MAX_RANGE}"));
                }
                Json::Arr((lo..lo.saturating_add(c)).map(|i| int(i, pos)).collect())
            }
            "trygetx" | "tryget" => return Ok(try_get(&a, pos)),
            "tryindexfromend" | "indexfromend" => {
                let arr = a.first().and_then(Val::as_arr).unwrap_or(&[]);
                let i = n(1).unwrap_or(0);
                return Ok(usize::try_from(i)
                    .ok()
                    .filter(|i| *i >= 1 && *i <= arr.len())
                    .map(|i| arr[arr.len() - i].clone())
                    .unwrap_or_else(|| Val::null(pos)));
            }
            "tolower" => Json::Str(s(0).unwrap_or_default().to_lowercase()),
            "toupper" => Json::Str(s(0).unwrap_or_default().to_uppercase()),
            "trim" => Json::Str(s(0).unwrap_or_default().trim().to_string()),
            "replace" => Json::Str(
                s(0).unwrap_or_default()
                    .replace(&s(1).unwrap_or_default(), &s(2).unwrap_or_default()),
            ),
            "split" => split(&a),
            "join" => Json::Str(
                a.first()
                    .and_then(Val::as_arr)
                    .unwrap_or(&[])
                    .iter()
                    .map(to_text)
                    .collect::<Vec<_>>()
                    .join(&s(1).unwrap_or_default()),
            ),
            "startswith" => Json::Bool(
                s(0).unwrap_or_default()
                    .to_lowercase()
                    .starts_with(&s(1).unwrap_or_default().to_lowercase()),
            ),
            "endswith" => Json::Bool(
                s(0).unwrap_or_default()
                    .to_lowercase()
                    .ends_with(&s(1).unwrap_or_default().to_lowercase()),
            ),
            "indexof" | "lastindexof" if a.first().is_some_and(|v| v.as_arr().is_some()) => {
                let arr = a[0].as_arr().unwrap_or(&[]);
                let hit = |v: &&Val| a.get(1).is_some_and(|x| same(v, x));
                let i = if f == "indexof" {
                    arr.iter().position(|v| hit(&v))
                } else {
                    arr.iter().rposition(|v| hit(&v))
                };
                Json::Int(i.map(|i| i as i64).unwrap_or(-1))
            }
            "indexof" => Json::Int(
                s(0).unwrap_or_default()
                    .to_lowercase()
                    .find(&s(1).unwrap_or_default().to_lowercase())
                    .map(|i| i as i64)
                    .unwrap_or(-1),
            ),
            "lastindexof" => Json::Int(
                s(0).unwrap_or_default()
                    .to_lowercase()
                    .rfind(&s(1).unwrap_or_default().to_lowercase())
                    .map(|i| i as i64)
                    .unwrap_or(-1),
            ),
            "substring" => return self.substring(&a, pos),
            "padleft" => {
                let t = a.first().map(to_text).unwrap_or_default();
                let w = n(1).unwrap_or(0).clamp(0, 10_000) as usize;
                let c = s(2).and_then(|c| c.chars().next()).unwrap_or(' ');
                let pad: String =
                    std::iter::repeat_n(c, w.saturating_sub(t.chars().count())).collect();
                Json::Str(pad + &t)
            }
            "add" | "sub" | "mul" | "div" | "mod" => return self.arith(f, n(0), n(1), pos),
            "min" | "max" => {
                let nums: Vec<i64> = if let Some(arr) = a.first().and_then(Val::as_arr) {
                    arr.iter().filter_map(Val::as_i64).collect()
                } else {
                    a.iter().filter_map(Val::as_i64).collect()
                };
                let r = if f == "min" {
                    nums.iter().min()
                } else {
                    nums.iter().max()
                };
                Json::Int(r.copied().unwrap_or(0))
            }
            "greater" | "greaterorequals" | "less" | "lessorequals" => {
                Json::Bool(compare(f, a.first(), a.get(1)))
            }
            "base64" => Json::Str(base64(s(0).unwrap_or_default().as_bytes())),
            "uri" => Json::Str(uri_join(
                &s(0).unwrap_or_default(),
                &s(1).unwrap_or_default(),
            )),
            "uricomponent" | "uricomponenttostring" | "base64tostring" | "datauri" => {
                Json::Str(s(0).unwrap_or_default())
            }
            "uniquestring" => Json::Str(unique_string(&a)),
            "guid" => Json::Str(guid(&a)),
            "newguid" => Json::Str("00000000-0000-4000-8000-000000000000".into()),
            "utcnow" => Json::Str("20260101T000000Z".into()),
            "resourceid" => return self.resource_id_fn(d, &a, pos, false),
            "subscriptionresourceid" => return self.resource_id_fn(d, &a, pos, true),
            "tenantresourceid" => Json::Str(format!("/providers/{}", type_name_path(&a))),
            "extensionresourceid" => Json::Str(format!(
                "{}/providers/{}",
                s(0).unwrap_or_default(),
                type_name_path(&a[1.min(a.len())..])
            )),
            "managementgroupresourceid" => Json::Str(format!(
                "/providers/Microsoft.Management/managementGroups/mg/providers/{}",
                type_name_path(&a)
            )),
            "resourcegroup" => return Ok(self.resource_group_obj(d, pos)),
            "subscription" => {
                return Ok(obj(
                    vec![
                        ("id", Val::str(format!("/subscriptions/{}", d.fn_sub), pos)),
                        ("subscriptionId", Val::str(d.fn_sub.clone(), pos)),
                        ("tenantId", Val::str(self.tenant(), pos)),
                        ("displayName", Val::str("subscription", pos)),
                    ],
                    pos,
                ))
            }
            "tenant" => {
                return Ok(obj(
                    vec![
                        ("tenantId", Val::str(self.tenant(), pos)),
                        ("countryCode", Val::str("US", pos)),
                    ],
                    pos,
                ))
            }
            "managementgroup" => {
                return Ok(obj(
                    vec![
                        (
                            "id",
                            Val::str("/providers/Microsoft.Management/managementGroups/mg", pos),
                        ),
                        ("name", Val::str("mg", pos)),
                    ],
                    pos,
                ))
            }
            "deployment" => return Ok(self.deployment_obj(d, pos)),
            "environment" => {
                return Ok(obj(
                    vec![
                        ("name", Val::str("AzureCloud", pos)),
                        (
                            "suffixes",
                            obj(
                                vec![
                                    ("storage", Val::str("core.windows.net", pos)),
                                    ("keyvaultDns", Val::str(".vault.azure.net", pos)),
                                ],
                                pos,
                            ),
                        ),
                    ],
                    pos,
                ))
            }
            "pickzones" => Json::Arr(vec![]),
            "cidrhost" => return self.cidr_host(s(0).unwrap_or_default(), n(1).unwrap_or(-1), pos),
            "float" => match a.first().map(|v| &v.v) {
                Some(Json::Int(i)) => Json::Float(*i as f64),
                Some(Json::Float(f)) => Json::Float(*f),
                Some(Json::Str(t)) => Json::Float(t.trim().parse().unwrap_or(0.0)),
                _ => Json::Float(0.0),
            },
            "datetimeadd" => Json::Str(s(0).unwrap_or_default()),
            "datetimetoepoch" => Json::Int(1_767_225_600),
            "datetimefromepoch" => Json::Str("2026-01-01T00:00:00Z".into()),
            "deployer" => {
                let t = Val::str(self.tenant(), pos);
                return Ok(obj(
                    vec![
                        ("objectId", Val::str(super::DEFAULT_SUBSCRIPTION, pos)),
                        ("tenantId", t),
                    ],
                    pos,
                ));
            }
            "providers" => Json::Unknown(format!(
                "{name}() returns what the subscription has registered, known only at deploy time"
            )),
            "parsecidr" => return self.parse_cidr(s(0).unwrap_or_default(), pos),
            "cidrsubnet" => {
                return self.cidr_subnet(
                    s(0).unwrap_or_default(),
                    n(1).unwrap_or(0),
                    n(2).unwrap_or(0),
                    pos,
                )
            }
            "loadtextcontent" | "loadjsoncontent" | "loadfileasbase64" => {
                return self.fail(
                    pos,
                    format!(
                        "{name}() is resolved by Bicep at build time; compile the Bicep file first"
                    ),
                )
            }
            _ if f.starts_with("list") => Json::Unknown(format!(
                "{name}() returns secrets or runtime state, known only at deploy time"
            )),
            _ => return self.fail(pos, format!("unknown function '{name}'")),
        };
        Ok(Val::new(v, pos))
    }

    fn substring(&mut self, a: &[Val], pos: Pos) -> R<Val> {
        let t: Vec<char> = a
            .first()
            .and_then(Val::as_str)
            .unwrap_or("")
            .chars()
            .collect();
        let start = a.get(1).and_then(Val::as_i64).unwrap_or(0);
        let len = a
            .get(2)
            .and_then(Val::as_i64)
            .unwrap_or(t.len() as i64 - start);
        if start < 0 || len < 0 || start + len > t.len() as i64 {
            return self.fail(
                pos,
                format!(
                    "substring({start}, {len}) is outside a string of length {}",
                    t.len()
                ),
            );
        }
        Ok(Val::str(
            t[start as usize..(start + len) as usize]
                .iter()
                .collect::<String>(),
            pos,
        ))
    }

    fn arith(&mut self, f: &str, x: Option<i64>, y: Option<i64>, pos: Pos) -> R<Val> {
        let (Some(x), Some(y)) = (x, y) else {
            return self.fail(pos, format!("{f}() needs two integers"));
        };
        let r = match f {
            "add" => x.checked_add(y),
            "sub" => x.checked_sub(y),
            "mul" => x.checked_mul(y),
            "div" => x.checked_div(y),
            _ => x.checked_rem(y),
        };
        match r {
            Some(v) => Ok(int(v, pos)),
            None => self.fail(pos, format!("{f}({x}, {y}) overflows or divides by zero")),
        }
    }

    fn resource_id_fn(&mut self, d: &Dep, a: &[Val], pos: Pos, sub_level: bool) -> R<Val> {
        let strs: Vec<String> = a.iter().map(to_text).collect();
        let Some(ti) = strs.iter().position(|s| is_type(s)) else {
            return self.fail(
                pos,
                "resourceId() needs a resource type like 'Microsoft.Network/virtualNetworks'",
            );
        };
        let (sub, rg) = match (ti, sub_level) {
            (0, true) => (d.fn_sub.clone(), None),
            (1, true) => (strs[0].clone(), None),
            (0, false) => (d.fn_sub.clone(), d.fn_rg.clone()),
            (1, false) => (d.fn_sub.clone(), Some(strs[0].clone())),
            _ => (strs[0].clone(), Some(strs[1].clone())),
        };
        let names: Vec<&str> = strs[ti + 1..].iter().map(String::as_str).collect();
        Ok(Val::str(
            resource_id(&sub, rg.as_deref(), &strs[ti], &names),
            pos,
        ))
    }

    fn resource_group_obj(&self, d: &Dep, pos: Pos) -> Val {
        let name = d.fn_rg.clone().unwrap_or_else(|| self.default_rg());
        obj(
            vec![
                (
                    "id",
                    Val::str(
                        format!("/subscriptions/{}/resourceGroups/{name}", d.fn_sub),
                        pos,
                    ),
                ),
                ("name", Val::str(name, pos)),
                ("type", Val::str("Microsoft.Resources/resourceGroups", pos)),
                ("location", Val::str(d.location.clone(), pos)),
                ("properties", obj(vec![], pos)),
            ],
            pos,
        )
    }

    fn deployment_obj(&self, d: &Dep, pos: Pos) -> Val {
        let link = obj(vec![("uri", Val::str(d.uri.clone(), pos))], pos);
        let props = obj(
            vec![
                ("templateLink", link),
                (
                    "template",
                    obj(vec![("contentVersion", Val::str("1.0.0.0", pos))], pos),
                ),
            ],
            pos,
        );
        obj(
            vec![
                ("name", Val::str(d.name.clone(), pos)),
                ("location", Val::str(d.location.clone(), pos)),
                ("properties", props),
            ],
            pos,
        )
    }

    fn parse_cidr(&mut self, c: String, pos: Pos) -> R<Val> {
        let Ok(net) = c.parse::<ipnet::Ipv4Net>() else {
            return self.fail(pos, format!("parseCidr(): '{c}' is not an IPv4 CIDR"));
        };
        let first = u32::from(net.network());
        let last = u32::from(net.broadcast());
        let ip = |x: u32| Val::str(Ipv4Addr::from(x).to_string(), pos);
        Ok(obj(
            vec![
                ("network", ip(first)),
                ("netmask", ip(u32::from(net.netmask()))),
                ("broadcast", ip(last)),
                (
                    "firstUsable",
                    ip(if net.prefix_len() >= 31 {
                        first
                    } else {
                        first + 1
                    }),
                ),
                (
                    "lastUsable",
                    ip(if net.prefix_len() >= 31 {
                        last
                    } else {
                        last - 1
                    }),
                ),
                ("cidr", int(net.prefix_len() as i64, pos)),
            ],
            pos,
        ))
    }

    /// `cidrHost(network, i)`: the i-th usable host, i.e. network + 1 + i.
    fn cidr_host(&mut self, c: String, idx: i64, pos: Pos) -> R<Val> {
        let Ok(net) = c.parse::<ipnet::Ipv4Net>() else {
            return self.fail(pos, format!("cidrHost(): '{c}' is not an IPv4 CIDR"));
        };
        let first = u32::from(net.network()) as i64;
        let last = u32::from(net.broadcast()) as i64;
        let host = first + 1 + idx;
        if idx < 0 || host >= last {
            return self.fail(
                pos,
                format!("cidrHost('{c}', {idx}) is outside the usable addresses"),
            );
        }
        Ok(Val::str(Ipv4Addr::from(host as u32).to_string(), pos))
    }

    fn cidr_subnet(&mut self, c: String, len: i64, idx: i64, pos: Pos) -> R<Val> {
        let Ok(net) = c.parse::<ipnet::Ipv4Net>() else {
            return self.fail(pos, format!("cidrSubnet(): '{c}' is not an IPv4 CIDR"));
        };
        let plen = net.prefix_len() as i64;
        if !(plen..=32).contains(&len) || idx < 0 || idx >= 1i64 << (len - plen) {
            return self.fail(
                pos,
                format!("cidrSubnet('{c}', {len}, {idx}) is out of range"),
            );
        }
        let base = u32::from(net.network()) as u64 + ((idx as u64) << (32 - len));
        Ok(Val::str(
            format!("{}/{len}", Ipv4Addr::from(base as u32)),
            pos,
        ))
    }
}

/// Finds a declared instance by symbolic name (`sym`, `sym[i]`), name or id.
fn find_instance(d: &Dep, t: &str) -> Option<usize> {
    let lt = t.to_ascii_lowercase();
    let by_sym = d.instances.iter().position(|i| {
        i.sym.as_deref().is_some_and(|s| {
            let s = s.to_ascii_lowercase();
            lt == s && i.copy.is_empty()
                || i.copy
                    .first()
                    .is_some_and(|(_, n)| lt == format!("{s}[{n}]"))
        })
    });
    by_sym
        .or_else(|| {
            d.instances
                .iter()
                .position(|i| i.name.eq_ignore_ascii_case(t))
        })
        .or_else(|| {
            d.instances.iter().position(|i| {
                let tail = format!("/providers/{}/{}", i.type_name, i.name).to_ascii_lowercase();
                lt.starts_with('/')
                    && (lt.ends_with(&tail) || id_tail_matches(&lt, &i.type_name, &i.name))
            })
        })
}

/// Every instance a `dependsOn` entry names (all copies of a symbolic loop).
pub(crate) fn find_all(d: &Dep, t: &str) -> Vec<usize> {
    let lt = t.to_ascii_lowercase();
    let loop_members: Vec<usize> = (0..d.instances.len())
        .filter(|&i| {
            d.instances[i]
                .sym
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(&lt))
        })
        .collect();
    if !loop_members.is_empty() {
        return loop_members;
    }
    find_instance(d, t).into_iter().collect()
}

fn id_tail_matches(id: &str, ty: &str, name: &str) -> bool {
    let want =
        resource_id("x", Some("x"), ty, &name.split('/').collect::<Vec<_>>()).to_ascii_lowercase();
    let tail = want.split("/providers/").nth(1).unwrap_or("");
    id.ends_with(tail) && !tail.is_empty()
}

/// `/subscriptions/S[/resourceGroups/G]/providers/NS/t1/n1/t2/n2...`.
pub fn resource_id(sub: &str, rg: Option<&str>, ty: &str, names: &[&str]) -> String {
    let mut segs = ty.split('/');
    let ns = segs.next().unwrap_or("");
    let mut path = format!("/subscriptions/{sub}");
    let is_rg = ty.eq_ignore_ascii_case("Microsoft.Resources/resourceGroups");
    if let (Some(g), false) = (rg, is_rg) {
        path.push_str(&format!("/resourceGroups/{g}"));
    }
    if is_rg {
        return format!("{path}/resourceGroups/{}", names.first().unwrap_or(&""));
    }
    path.push_str(&format!("/providers/{ns}"));
    for (t, n) in segs.zip(names.iter()) {
        path.push_str(&format!("/{t}/{n}"));
    }
    path
}

fn is_type(s: &str) -> bool {
    let Some((ns, rest)) = s.split_once('/') else {
        return false;
    };
    ns.contains('.') && !rest.is_empty() && !s.starts_with('/')
}

fn type_name_path(a: &[Val]) -> String {
    let strs: Vec<String> = a.iter().map(to_text).collect();
    let Some(ty) = strs.first() else {
        return String::new();
    };
    let mut segs = ty.split('/');
    let mut p = segs.next().unwrap_or("").to_string();
    for (t, n) in segs.zip(strs[1..].iter()) {
        p.push_str(&format!("/{t}/{n}"));
    }
    p
}

/// RFC 3986-style resolution of `rel` against `base` (enough for template links).
pub fn uri_join(base: &str, rel: &str) -> String {
    if rel.contains("://") || base.is_empty() {
        return rel.to_string();
    }
    let (scheme_host, path) = match base.find("://") {
        Some(i) => {
            let after = &base[i + 3..];
            let slash = after.find('/').map(|j| i + 3 + j).unwrap_or(base.len());
            (&base[..slash], &base[slash..])
        }
        None => ("", base),
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = match path.rfind('/') {
        Some(j) => &path[..=j],
        None => "/",
    };
    let joined = if rel.starts_with('/') {
        rel.to_string()
    } else {
        format!("{dir}{rel}")
    };
    let mut out: Vec<&str> = Vec::new();
    let trailing = joined.ends_with('/');
    for seg in joined.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut p = format!("{scheme_host}/{}", out.join("/"));
    if trailing && !p.ends_with('/') {
        p.push('/');
    }
    p
}

pub(crate) fn int(i: i64, pos: Pos) -> Val {
    Val::new(Json::Int(i), pos)
}

/// A value as text (`string()`): strings as they are, the rest as JSON.
pub(crate) fn to_text(v: &Val) -> String {
    match &v.v {
        Json::Str(s) => s.clone(),
        Json::Null => String::new(),
        Json::Bool(b) => {
            if *b {
                "True".into()
            } else {
                "False".into()
            }
        }
        Json::Int(i) => i.to_string(),
        Json::Float(f) => f.to_string(),
        _ => to_json(v),
    }
}

fn to_json(v: &Val) -> String {
    match &v.v {
        Json::Null => "null".into(),
        Json::Bool(b) => b.to_string(),
        Json::Int(i) => i.to_string(),
        Json::Float(f) => f.to_string(),
        Json::Str(s) => serde_json::to_string(s).unwrap_or_default(),
        Json::Arr(a) => format!("[{}]", a.iter().map(to_json).collect::<Vec<_>>().join(",")),
        Json::Obj(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!(
                    "{}:{}",
                    serde_json::to_string(k).unwrap_or_default(),
                    to_json(v)
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Json::Unknown(u) => format!("<{u}>"),
    }
}

fn concat(a: &[Val]) -> Json {
    if a.first().is_some_and(|v| v.as_arr().is_some()) {
        return Json::Arr(
            a.iter()
                .flat_map(|v| v.as_arr().map(<[Val]>::to_vec).unwrap_or_default())
                .collect(),
        );
    }
    Json::Str(a.iter().map(to_text).collect())
}

fn format_fn(a: &[Val]) -> String {
    let Some(f) = a.first().and_then(Val::as_str) else {
        return String::new();
    };
    let mut out = String::new();
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut spec = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    spec.push(c);
                }
                let idx: usize = spec
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .parse()
                    .unwrap_or(usize::MAX);
                if let Some(v) = a.get(idx.saturating_add(1)) {
                    out.push_str(&to_text(v));
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn same(a: &Val, b: &Val) -> bool {
    match (&a.v, &b.v) {
        (Json::Arr(x), Json::Arr(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Json::Obj(x), Json::Obj(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    b.key(k).is_some_and(|w| same(v, w)) || (v.is_null() && b.key(k).is_none())
                })
        }
        (Json::Int(x), Json::Float(y)) | (Json::Float(y), Json::Int(x)) => (*x as f64) == *y,
        (x, y) => x == y,
    }
}

fn is_empty(v: &Val) -> bool {
    match &v.v {
        Json::Null => true,
        Json::Str(s) => s.is_empty(),
        Json::Arr(a) => a.is_empty(),
        Json::Obj(o) => o.is_empty(),
        _ => false,
    }
}

fn len(v: &Val) -> i64 {
    match &v.v {
        Json::Str(s) => s.chars().count() as i64,
        Json::Arr(a) => a.len() as i64,
        Json::Obj(o) => o.len() as i64,
        _ => 0,
    }
}

fn contains(c: &Val, x: &Val) -> bool {
    match &c.v {
        Json::Str(s) => s.contains(&to_text(x)),
        Json::Arr(a) => a.iter().any(|v| same(v, x)),
        Json::Obj(_) => c.key(&to_text(x)).is_some(),
        _ => false,
    }
}

fn union(a: &[Val]) -> Json {
    if a.first().is_some_and(|v| v.as_obj().is_some()) {
        return union_objects(a, true);
    }
    let mut out: Vec<Val> = Vec::new();
    for v in a {
        for x in v.as_arr().unwrap_or(&[]) {
            if !out.iter().any(|y| same(x, y)) {
                out.push(x.clone());
            }
        }
    }
    Json::Arr(out)
}

fn union_objects(a: &[Val], deep: bool) -> Json {
    let mut out: Vec<(String, Val)> = Vec::new();
    for v in a {
        for (k, x) in v.as_obj().unwrap_or(&[]) {
            match out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(k)) {
                Some((_, old)) if deep && old.as_obj().is_some() && x.as_obj().is_some() => {
                    let merged = union_objects(&[old.clone(), x.clone()], true);
                    *old = Val::new(merged, x.pos);
                }
                Some((_, old)) => *old = x.clone(),
                None => out.push((k.clone(), x.clone())),
            }
        }
    }
    Json::Obj(out)
}

fn intersection(a: &[Val]) -> Json {
    let Some(first) = a.first() else {
        return Json::Null;
    };
    match &first.v {
        Json::Arr(x) => Json::Arr(
            x.iter()
                .filter(|v| a[1..].iter().all(|o| contains(o, v)))
                .cloned()
                .collect(),
        ),
        Json::Obj(o) => Json::Obj(
            o.iter()
                .filter(|(k, v)| a[1..].iter().all(|b| b.key(k).is_some_and(|w| same(v, w))))
                .cloned()
                .collect(),
        ),
        _ => Json::Null,
    }
}

fn first_last(v: Option<&Val>, first: bool, pos: Pos) -> Val {
    match v.map(|v| &v.v) {
        Some(Json::Arr(a)) => (if first { a.first() } else { a.last() })
            .cloned()
            .unwrap_or_else(|| Val::null(pos)),
        Some(Json::Str(s)) => Val::str(
            (if first {
                s.chars().next()
            } else {
                s.chars().last()
            })
            .map(String::from)
            .unwrap_or_default(),
            pos,
        ),
        _ => Val::null(pos),
    }
}

fn take_skip(v: Option<&Val>, n: i64, take: bool) -> Json {
    let n = n.max(0) as usize;
    match v.map(|v| &v.v) {
        Some(Json::Arr(a)) => {
            let n = n.min(a.len());
            Json::Arr(if take {
                a[..n].to_vec()
            } else {
                a[n..].to_vec()
            })
        }
        Some(Json::Str(s)) => {
            let c: Vec<char> = s.chars().collect();
            let n = n.min(c.len());
            Json::Str(if take {
                c[..n].iter().collect()
            } else {
                c[n..].iter().collect()
            })
        }
        _ => Json::Null,
    }
}

fn items(v: Option<&Val>, pos: Pos) -> Json {
    let mut members: Vec<(String, Val)> = v.and_then(Val::as_obj).unwrap_or(&[]).to_vec();
    members.sort_by_key(|(k, _)| k.to_ascii_lowercase());
    Json::Arr(
        members
            .into_iter()
            .map(|(k, v)| obj(vec![("key", Val::str(k, pos)), ("value", v)], pos))
            .collect(),
    )
}

fn try_get(a: &[Val], pos: Pos) -> Val {
    let mut cur = match a.first() {
        Some(v) => v.clone(),
        None => return Val::null(pos),
    };
    for k in &a[1..] {
        let next = match (&cur.v, &k.v) {
            (Json::Obj(_), Json::Str(s)) => cur.key(s).cloned(),
            (Json::Arr(arr), _) => k
                .as_i64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| arr.get(i).cloned()),
            (Json::Unknown(_), _) => return cur,
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return Val::null(pos),
        }
    }
    cur
}

fn split(a: &[Val]) -> Json {
    let s = a.first().and_then(Val::as_str).unwrap_or("");
    let delims: Vec<String> = match a.get(1).map(|v| &v.v) {
        Some(Json::Arr(d)) => d.iter().map(to_text).collect(),
        Some(_) => vec![to_text(&a[1])],
        None => vec![",".into()],
    };
    let mut parts = vec![s.to_string()];
    for d in delims.iter().filter(|d| !d.is_empty()) {
        parts = parts
            .iter()
            .flat_map(|p| p.split(d.as_str()).map(str::to_string).collect::<Vec<_>>())
            .collect();
    }
    let pos = a.first().map(|v| v.pos).unwrap_or_default();
    Json::Arr(parts.into_iter().map(|p| Val::str(p, pos)).collect())
}

fn compare(f: &str, a: Option<&Val>, b: Option<&Val>) -> bool {
    let ord = match (a.map(|v| &v.v), b.map(|v| &v.v)) {
        (Some(Json::Str(x)), Some(Json::Str(y))) => x.cmp(y),
        _ => a
            .and_then(Val::as_i64)
            .unwrap_or(0)
            .cmp(&b.and_then(Val::as_i64).unwrap_or(0)),
    };
    match f {
        "greater" => ord.is_gt(),
        "greaterorequals" => ord.is_ge(),
        "less" => ord.is_lt(),
        _ => ord.is_le(),
    }
}

fn fnv(parts: &[Val]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for p in parts {
        for b in to_text(p)
            .to_ascii_lowercase()
            .bytes()
            .chain(std::iter::once(0xff))
        {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h
}

/// A stable stand-in for Azure's `uniqueString` (13 characters; names only).
fn unique_string(a: &[Val]) -> String {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut h = fnv(a);
    (0..13)
        .map(|_| {
            let c = alphabet[(h & 31) as usize] as char;
            h = h.rotate_right(5) ^ 0x9e3779b97f4a7c15;
            c
        })
        .collect()
}

fn guid(a: &[Val]) -> String {
    let h = fnv(a);
    let g = h.rotate_left(17) ^ 0x5bd1e995;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        g & 0xfff,
        g >> 16
    )
}

fn base64(b: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                o.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_resolution() {
        assert_eq!(
            uri_join("https://x.org/a/b/azuredeploy.json", "templates/core/"),
            "https://x.org/a/b/templates/core/"
        );
        assert_eq!(
            uri_join(
                "https://x.org/a/t/core/transit/deploy.json",
                "../../general/"
            ),
            "https://x.org/a/t/general/"
        );
        assert_eq!(
            uri_join("file:///r/a.json", "t/b.json"),
            "file:///r/t/b.json"
        );
    }

    #[test]
    fn resource_ids() {
        assert_eq!(
            resource_id("s", Some("g"), "Microsoft.Network/virtualNetworks/subnets", &["v", "s1"]),
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/s1"
        );
    }
}
