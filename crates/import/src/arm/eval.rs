//! Evaluating one template (a deployment): parameters, variables (lazy,
//! with cycle detection), resources with conditions and copy loops, nested
//! and linked deployments, outputs. Expressions are evaluated by
//! [`super::funcs`]. Everything is bounded: copy counts, deployment depth,
//! and a fuel budget on function calls.

use std::collections::HashMap;

use super::expr::{self, Expr, Template, E};
use super::Arm;
use crate::ir::Resource;
use crate::json::{Json, Pos, Val};

/// ARM's own limit on a copy loop.
pub const MAX_COPY: i64 = 800;
/// Deepest chain of variables, parameters, references and user functions evaluated inside each other.
pub const MAX_EVAL_NESTING: usize = 200;
/// Deepest chain of nested deployments.
pub const MAX_DEPLOYMENT_DEPTH: usize = 16;

/// One declared resource instance (after copy expansion and conditions).
pub(crate) struct Instance {
    pub sym: Option<String>,
    pub name: String,
    pub type_name: String,
    pub raw: Val,
    pub copy: Vec<(String, i64)>,
    pub existing: bool,
    pub value: Option<Val>,
    pub busy: bool,
    pub sub: Option<String>,
    pub rg: Option<String>,
}

/// A lazily evaluated named value (parameter or variable).
pub(crate) enum Lazy {
    Todo(Val),
    Busy,
    Done(Val),
}

/// The evaluation state of one template.
pub(crate) struct Dep {
    pub file: u32,
    pub tpl: Val,
    pub name: String,
    pub uri: String,
    pub sub: String,
    pub rg: Option<String>,
    pub location: String,
    /// Scope seen by `subscription()`, `resourceGroup()`, `resourceId()`: the
    /// parent's for outer-scope nested templates, else the deployment's own.
    pub fn_sub: String,
    pub fn_rg: Option<String>,
    pub params: HashMap<String, Lazy>,
    pub vars: HashMap<String, Lazy>,
    pub funcs: HashMap<String, Val>,
    pub instances: Vec<Instance>,
    pub depth: usize,
}

/// Per-expression environment: copy indexes and lambda variables.
#[derive(Clone, Default)]
pub(crate) struct Env {
    pub copy: Vec<(String, i64)>,
    pub lambdas: Vec<(String, Val)>,
    pub fn_params: Option<Vec<(String, Val)>>,
}

/// Information about a `reference()` result, to tell deploy-time values apart.
#[derive(Clone)]
pub(crate) struct RefInfo {
    pub name: String,
    pub type_name: String,
    pub body: Val,
}

pub(crate) type R<T> = Result<T, ()>;

impl Arm<'_> {
    /// Evaluates a template; returns `{outputs: {...}}`.
    pub(crate) fn deployment(&mut self, mut d: Dep) -> R<Val> {
        if d.depth > MAX_DEPLOYMENT_DEPTH {
            return self.fail(
                d.tpl.pos,
                format!("nested deployments deeper than {MAX_DEPLOYMENT_DEPTH} levels"),
            );
        }
        self.declare(&mut d);
        self.expand(&mut d)?;
        for i in 0..d.instances.len() {
            let _ = self.instance(&mut d, i);
        }
        let outputs = self.outputs(&mut d)?;
        Ok(obj(vec![("outputs", outputs)], d.tpl.pos))
    }

    fn declare(&mut self, d: &mut Dep) {
        if let Some(vars) = d.tpl.key("variables").and_then(Val::as_obj) {
            for (k, v) in vars {
                if k.eq_ignore_ascii_case("copy") {
                    for c in v.as_arr().unwrap_or(&[]) {
                        if let Some(n) = c.key("name").and_then(Val::as_str) {
                            let lazy = obj(
                                vec![("copy", Val::new(Json::Arr(vec![c.clone()]), c.pos))],
                                c.pos,
                            );
                            d.vars
                                .insert(n.to_ascii_lowercase(), Lazy::Todo(tag_copy_var(lazy)));
                        }
                    }
                    continue;
                }
                d.vars.insert(k.to_ascii_lowercase(), Lazy::Todo(v.clone()));
            }
        }
        if let Some(fs) = d.tpl.key("functions").and_then(Val::as_arr) {
            for ns in fs {
                let n = ns.key("namespace").and_then(Val::as_str).unwrap_or("");
                for (m, f) in ns.key("members").and_then(Val::as_obj).unwrap_or(&[]) {
                    d.funcs
                        .insert(format!("{n}.{m}").to_ascii_lowercase(), f.clone());
                }
            }
        }
    }

    /// Expands resources (v1 array with nested children, v2 symbolic object).
    fn expand(&mut self, d: &mut Dep) -> R<()> {
        let res = d.tpl.key("resources").cloned();
        match res.as_ref().map(|v| &v.v) {
            Some(Json::Arr(items)) => {
                for r in items {
                    self.expand_one(d, None, r, None)?;
                }
            }
            Some(Json::Obj(members)) => {
                for (sym, r) in members {
                    self.expand_one(d, Some(sym.clone()), r, None)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn expand_one(
        &mut self,
        d: &mut Dep,
        sym: Option<String>,
        r: &Val,
        parent: Option<(&str, &str)>,
    ) -> R<()> {
        let count = match r.key("copy") {
            Some(c) => {
                let n = c
                    .key("count")
                    .map(|v| self.value(d, &Env::default(), v))
                    .transpose()?;
                let n = n.and_then(|v| v.as_i64()).unwrap_or(0);
                self.copy_count(n, c.pos)?;
                let name = c
                    .key("name")
                    .and_then(Val::as_str)
                    .unwrap_or("")
                    .to_string();
                Some((name, n))
            }
            None => None,
        };
        let loops: Vec<Vec<(String, i64)>> = match &count {
            Some((name, n)) => (0..*n).map(|i| vec![(name.clone(), i)]).collect(),
            None => vec![vec![]],
        };
        for copy in loops {
            let env = Env {
                copy: copy.clone(),
                ..Env::default()
            };
            if let Some(c) = r.key("condition") {
                let v = self.value(d, &env, c)?;
                match v.as_bool() {
                    Some(false) => continue,
                    Some(true) => {}
                    None => {
                        return self.fail(
                            c.pos,
                            format!("condition is {}, not a boolean", v.describe()),
                        )
                    }
                }
            }
            let name = self.text_of(d, &env, r.key("name"), r.pos, "name")?;
            let ty = self.text_of(d, &env, r.key("type"), r.pos, "type")?;
            let (name, ty) = match parent {
                Some((pn, pt)) if !ty.contains('.') || ty.matches('/').count() == 0 => {
                    (format!("{pn}/{name}"), format!("{pt}/{ty}"))
                }
                _ => (name, ty),
            };
            let scope = |k: &str| r.key(k).cloned();
            let sub = match scope("subscriptionId") {
                Some(v) => Some(self.text_of(d, &env, Some(&v), r.pos, "subscriptionId")?),
                None => None,
            };
            let rg = match scope("resourceGroup") {
                Some(v) => Some(self.text_of(d, &env, Some(&v), r.pos, "resourceGroup")?),
                None => None,
            };
            let existing = r.key("existing").and_then(Val::as_bool).unwrap_or(false);
            d.instances.push(Instance {
                sym: sym.clone(),
                name: name.clone(),
                type_name: ty.clone(),
                raw: r.clone(),
                copy: copy.clone(),
                existing,
                value: None,
                busy: false,
                sub,
                rg,
            });
            if let Some(children) = r.key("resources").and_then(Val::as_arr) {
                for ch in children {
                    self.expand_one(d, None, ch, Some((&name, &ty)))?;
                }
            }
        }
        Ok(())
    }

    pub(crate) fn copy_count(&mut self, n: i64, pos: Pos) -> R<()> {
        if !(0..=MAX_COPY).contains(&n) {
            return self.fail(
                pos,
                format!("copy count {n} is outside 0..{MAX_COPY} (ARM's limit)"),
            );
        }
        Ok(())
    }

    fn text_of(
        &mut self,
        d: &mut Dep,
        env: &Env,
        v: Option<&Val>,
        pos: Pos,
        what: &str,
    ) -> R<String> {
        let Some(v) = v else {
            return self.fail(pos, format!("resource has no {what}"));
        };
        let e = self.value(d, env, v)?;
        match &e.v {
            Json::Str(s) => Ok(s.clone()),
            Json::Unknown(u) => self.fail(
                v.pos,
                format!("the resource {what} is not known before deployment: {u}"),
            ),
            _ => self.fail(
                v.pos,
                format!("resource {what} is {}, not a string", e.describe()),
            ),
        }
    }

    /// Evaluates instance `i` once (memoized): its properties, or a nested deployment's outputs.
    pub(crate) fn instance(&mut self, d: &mut Dep, i: usize) -> R<Val> {
        if let Some(v) = &d.instances[i].value {
            return Ok(v.clone());
        }
        let pos = d.instances[i].raw.pos;
        if d.instances[i].busy {
            return self.fail(
                pos,
                format!(
                    "'{}' refers to itself through reference()",
                    d.instances[i].name
                ),
            );
        }
        if self.nesting >= MAX_EVAL_NESTING {
            return self.fail(
                pos,
                format!("reference() chains deeper than {MAX_EVAL_NESTING} levels"),
            );
        }
        d.instances[i].busy = true;
        self.nesting += 1;
        let r = self.instance_body(d, i);
        self.nesting -= 1;
        d.instances[i].busy = false;
        let v = r?;
        d.instances[i].value = Some(v.clone());
        Ok(v)
    }

    fn instance_body(&mut self, d: &mut Dep, i: usize) -> R<Val> {
        let inst = &d.instances[i];
        let env = Env {
            copy: inst.copy.clone(),
            ..Env::default()
        };
        let raw = inst.raw.clone();
        let ty = inst.type_name.clone();
        if inst.existing {
            let sub = inst.sub.clone().unwrap_or_else(|| d.sub.clone());
            let rg = inst.rg.clone().or_else(|| d.rg.clone());
            let names: Vec<&str> = inst.name.split('/').collect();
            let id = super::funcs::resource_id(&sub, rg.as_deref(), &ty, &names);
            if let Some(info) = self.registry.get(&id.to_ascii_lowercase()) {
                return Ok(info.body.clone());
            }
            let u = format!("existing {} '{}' is not declared in the template set; its properties are not known", ty, inst.name);
            return Ok(Val::new(Json::Unknown(u), raw.pos));
        }
        self.depends_on(d, i, &env, &raw)?;
        if ty.eq_ignore_ascii_case("Microsoft.Resources/deployments") {
            return self.nested(d, i, &env, &raw);
        }
        let props = match raw.key("properties") {
            Some(p) => self.value(d, &env, p)?,
            None => obj(vec![], raw.pos),
        };
        let (name, sub, rg) = (
            d.instances[i].name.clone(),
            d.instances[i].sub.clone(),
            d.instances[i].rg.clone(),
        );
        let sub = sub.unwrap_or_else(|| d.sub.clone());
        let rg = rg.or_else(|| d.rg.clone());
        self.emit(d, &name, &ty, (&sub, rg.as_deref()), &raw, props.clone());
        let info = RefInfo {
            name: name.clone(),
            type_name: ty.clone(),
            body: props.clone(),
        };
        self.registry
            .insert(name.to_ascii_lowercase(), info.clone());
        let id = super::funcs::resource_id(
            &sub,
            rg.as_deref(),
            &ty,
            &name.split('/').collect::<Vec<_>>(),
        );
        self.registry.insert(id.to_ascii_lowercase(), info);
        Ok(props)
    }

    /// Evaluates what an instance depends on first (so `existing` and `reference()` see them).
    fn depends_on(&mut self, d: &mut Dep, i: usize, env: &Env, raw: &Val) -> R<()> {
        let Some(deps) = raw.key("dependsOn").and_then(Val::as_arr) else {
            return Ok(());
        };
        for dep in deps {
            let v = self.value(d, env, dep)?;
            let Some(t) = v.as_str() else { continue };
            for j in super::funcs::find_all(d, t) {
                if j != i && !d.instances[j].busy {
                    self.instance(d, j)?;
                }
            }
        }
        Ok(())
    }

    /// Records an evaluated resource for the mapper, deployed to subscription `sub` and
    /// resource group `rg`.
    fn emit(
        &mut self,
        d: &Dep,
        name: &str,
        ty: &str,
        (sub, rg): (&str, Option<&str>),
        raw: &Val,
        props: Val,
    ) {
        let id = super::funcs::resource_id(sub, rg, ty, &name.split('/').collect::<Vec<_>>());
        self.index_subnets(&id, ty, &props);
        let body = obj(
            vec![
                ("id", Val::str(id.clone(), raw.pos)),
                ("name", Val::str(name, raw.pos)),
                ("type", Val::str(ty, raw.pos)),
                ("properties", props),
            ],
            raw.pos,
        );
        let file = self.files.name(d.file).to_string();
        // A resource declared again later (e.g. a subnet re-deployed with a route table): the later one wins.
        self.out.retain(|r| !r.id.eq_ignore_ascii_case(&id));
        self.out.push(Resource {
            id,
            type_name: ty.to_string(),
            name: crate::ir::last_segment(name).to_string(),
            subscription: Some(sub.to_string()),
            resource_group: rg.map(str::to_string),
            tenant: self.opts.tenant.clone(),
            body,
            source: format!("{file}:{}", raw.pos.line),
            pos: raw.pos,
        });
    }

    fn index_subnets(&mut self, id: &str, ty: &str, props: &Val) {
        let lower = ty.to_ascii_lowercase();
        if lower == "microsoft.network/virtualnetworks" {
            for s in props.key("subnets").and_then(Val::as_arr).unwrap_or(&[]) {
                let n = s.key("name").and_then(Val::as_str).unwrap_or("");
                if let Some(p) = s
                    .path(&["properties", "addressPrefix"])
                    .and_then(Val::as_str)
                {
                    self.subnets.insert(
                        format!("{id}/subnets/{n}").to_ascii_lowercase(),
                        p.to_string(),
                    );
                }
            }
        } else if lower == "microsoft.network/virtualnetworks/subnets" {
            if let Some(p) = props.key("addressPrefix").and_then(Val::as_str) {
                self.subnets.insert(id.to_ascii_lowercase(), p.to_string());
            }
        }
    }

    /// A nested (inline) or linked deployment.
    fn nested(&mut self, d: &mut Dep, i: usize, env: &Env, raw: &Val) -> R<Val> {
        let props = raw
            .key("properties")
            .cloned()
            .unwrap_or_else(|| obj(vec![], raw.pos));
        let inner_scope = props
            .path(&["expressionEvaluationOptions", "scope"])
            .and_then(Val::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("inner"));
        let (tpl, file, uri) = match (props.key("template"), props.key("templateLink")) {
            (Some(t), _) => (t.clone(), d.file, d.uri.clone()),
            (None, Some(link)) => {
                let uri_v = link.key("uri").or_else(|| link.key("relativePath"));
                let Some(uri_v) = uri_v else {
                    return self.fail(link.pos, "templateLink has no uri");
                };
                let uri = self.text_of(d, env, Some(uri_v), link.pos, "templateLink.uri")?;
                let uri = if link.key("uri").is_none() {
                    super::funcs::uri_join(&d.uri, &uri)
                } else {
                    uri
                };
                let (t, f) = self.linked(&uri, uri_v.pos)?;
                (t, f, uri)
            }
            (None, None) => {
                return self.fail(raw.pos, "deployment has neither template nor templateLink")
            }
        };
        let mut params = HashMap::new();
        let linked = props.key("template").is_none();
        let outer = !inner_scope && !linked && d.tpl.key("languageVersion").is_none();
        if let Some(p) = props.key("parameters") {
            let pv = self.value(d, env, p)?;
            for (k, v) in pv.as_obj().unwrap_or(&[]) {
                let val = v.key("value").cloned().unwrap_or_else(|| Val::null(v.pos));
                params.insert(k.to_ascii_lowercase(), val);
            }
        }
        let inst = &d.instances[i];
        let sub = inst.sub.clone().unwrap_or_else(|| d.sub.clone());
        let rg = inst.rg.clone().or_else(|| d.rg.clone());
        let name = inst.name.clone();
        let mut inner = self.new_dep(
            file,
            tpl,
            name,
            uri,
            sub,
            rg,
            d.location.clone(),
            d.depth + 1,
            params,
        )?;
        if outer {
            // Outer scope (the v1 default for inline templates): the parent's parameters and variables.
            inner.params = clone_lazies(&d.params);
            inner.vars = clone_lazies(&d.vars);
            inner.fn_sub = d.fn_sub.clone();
            inner.fn_rg = d.fn_rg.clone();
        }
        self.deployment(inner)
    }

    /// A new deployment with parameter values (already evaluated) bound to declarations.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_dep(
        &mut self,
        file: u32,
        tpl: Val,
        name: String,
        uri: String,
        sub: String,
        rg: Option<String>,
        location: String,
        depth: usize,
        mut given: HashMap<String, Val>,
    ) -> R<Dep> {
        let mut params = HashMap::new();
        for (k, decl) in tpl.key("parameters").and_then(Val::as_obj).unwrap_or(&[]) {
            let key = k.to_ascii_lowercase();
            let v = match given.remove(&key) {
                // A null value takes the default (what Bicep modules rely on).
                Some(v) if !(v.is_null() && decl.key("defaultValue").is_some()) => Lazy::Done(v),
                _ => match decl.key("defaultValue") {
                    Some(dv) => Lazy::Todo(dv.clone()),
                    None if decl.key("nullable").and_then(Val::as_bool) == Some(true) => {
                        Lazy::Done(Val::null(decl.pos))
                    }
                    None => Lazy::Done(Val::new(
                        Json::Unknown(format!(
                            "parameter '{k}' has no value; supply it in a parameter file"
                        )),
                        decl.pos,
                    )),
                },
            };
            params.insert(key, v);
        }
        Ok(Dep {
            file,
            tpl,
            name,
            uri,
            fn_sub: sub.clone(),
            fn_rg: rg.clone(),
            sub,
            rg,
            location,
            params,
            vars: HashMap::new(),
            funcs: HashMap::new(),
            instances: Vec::new(),
            depth,
        })
    }

    fn outputs(&mut self, d: &mut Dep) -> R<Val> {
        let mut out = Vec::new();
        let pos = d.tpl.pos;
        for (k, o) in d
            .tpl
            .key("outputs")
            .and_then(Val::as_obj)
            .unwrap_or(&[])
            .to_vec()
        {
            if let Some(c) = o.key("copy") {
                let v = self.copy_array(d, &Env::default(), c, "")?;
                out.push((k, obj(vec![("value", v)], o.pos)));
                continue;
            }
            let v = match o.key("value") {
                Some(v) => match self.value(d, &Env::default(), v) {
                    Ok(x) => x,
                    Err(()) => continue,
                },
                None => Val::null(o.pos),
            };
            out.push((k, obj(vec![("value", v)], o.pos)));
        }
        Ok(Val::new(Json::Obj(out), pos))
    }

    /// `{count, input}` into an array, `copyIndex(name)` bound per element.
    pub(crate) fn copy_array(&mut self, d: &mut Dep, env: &Env, c: &Val, name: &str) -> R<Val> {
        let n = match c.key("count") {
            Some(v) => self.value(d, env, v)?.as_i64().unwrap_or(0),
            None => 0,
        };
        self.copy_count(n, c.pos)?;
        let Some(input) = c.key("input") else {
            return self.fail(c.pos, "copy has no input");
        };
        let mut items = Vec::new();
        for i in 0..n {
            let mut e = env.clone();
            e.copy.push((name.to_string(), i));
            items.push(self.value(d, &e, input)?);
        }
        Ok(Val::new(Json::Arr(items), c.pos))
    }

    /// Evaluates a JSON value: expressions in strings, property copy loops in objects.
    pub(crate) fn value(&mut self, d: &mut Dep, env: &Env, v: &Val) -> R<Val> {
        match &v.v {
            Json::Str(s) => match expr::classify(s) {
                Template::Literal(l) => Ok(Val::str(l.into_owned(), v.pos)),
                Template::Expression(text, off) => self.expression(d, env, text, v.pos, off),
            },
            Json::Arr(items) => {
                let mut out = Vec::with_capacity(items.len());
                for x in items {
                    out.push(self.value(d, env, x)?);
                }
                Ok(Val::new(Json::Arr(out), v.pos))
            }
            Json::Obj(members) => self.object(d, env, members, v.pos),
            _ => Ok(v.clone()),
        }
    }

    fn object(&mut self, d: &mut Dep, env: &Env, members: &[(String, Val)], pos: Pos) -> R<Val> {
        let mut out = Vec::with_capacity(members.len());
        for (k, x) in members {
            if k == "copy" {
                if let Some(loops) = x
                    .as_arr()
                    .filter(|a| a.iter().all(|c| c.key("input").is_some()))
                {
                    for c in loops {
                        let name = c
                            .key("name")
                            .and_then(Val::as_str)
                            .unwrap_or("")
                            .to_string();
                        let arr = self.copy_array(d, env, c, &name)?;
                        out.push((name, arr));
                    }
                    continue;
                }
            }
            out.push((k.clone(), self.value(d, env, x)?));
        }
        Ok(Val::new(Json::Obj(out), pos))
    }

    fn expression(&mut self, d: &mut Dep, env: &Env, text: &str, pos: Pos, off: usize) -> R<Val> {
        let base = Pos {
            col: pos.col + off as u32,
            ..pos
        };
        let e = match expr::parse(text) {
            Ok(e) => e,
            Err(pe) => {
                let at = Pos {
                    col: base.col + pe.off as u32 + 1,
                    ..base
                };
                return self.fail(
                    at,
                    format!("invalid expression: {} in '[{}]'", pe.message, clip(text)),
                );
            }
        };
        let mut at = base;
        at.col += 1;
        let saved = std::mem::replace(&mut self.current_expr, clip(text));
        let r = self.eval(d, env, &e, at).map(|(v, _)| v);
        self.current_expr = saved;
        r
    }

    /// Evaluates an expression node; `at` is the position of the expression's first character.
    pub(crate) fn eval(
        &mut self,
        d: &mut Dep,
        env: &Env,
        e: &E,
        at: Pos,
    ) -> R<(Val, Option<RefInfo>)> {
        self.fuel = self.fuel.saturating_sub(1);
        if self.fuel == 0 {
            return self.fail(
                at,
                "evaluation budget exhausted (the template does too much work)",
            );
        }
        let pos = Pos {
            col: at.col + e.off as u32,
            ..at
        };
        match &e.k {
            Expr::Str(s) => Ok((Val::str(s.clone(), pos), None)),
            Expr::Int(i) => Ok((Val::new(Json::Int(*i), pos), None)),
            Expr::Call(name, args) => self.call(d, env, name, args, pos, at),
            Expr::Member(base, key) => {
                let (b, r) = self.eval(d, env, base, at)?;
                self.member(b, key, r, pos, at)
            }
            Expr::Index(base, ix) => {
                let (b, r) = self.eval(d, env, base, at)?;
                let (i, _) = self.eval(d, env, ix, at)?;
                self.index(b, &i, r, pos, at)
            }
        }
    }

    fn member(
        &mut self,
        b: Val,
        key: &str,
        r: Option<RefInfo>,
        pos: Pos,
        at: Pos,
    ) -> R<(Val, Option<RefInfo>)> {
        match &b.v {
            Json::Unknown(_) => Ok((b, r)),
            Json::Obj(_) => match b.key(key) {
                Some(v) => Ok((placed(v.clone(), pos), r)),
                None => match r {
                    Some(info) => Ok((self.deploy_time(&info, key, at), None)),
                    None if b.as_obj().is_some_and(|o| {
                        o.iter()
                            .any(|(k, v)| k.eq_ignore_ascii_case(key) && v.is_null())
                    }) =>
                    {
                        Ok((Val::null(pos), None))
                    }
                    None => self.fail(pos, format!("the object has no property '{key}'")),
                },
            },
            _ => self.fail(
                pos,
                format!("cannot read property '{key}' of {}", b.describe()),
            ),
        }
    }

    fn index(
        &mut self,
        b: Val,
        i: &Val,
        r: Option<RefInfo>,
        pos: Pos,
        at: Pos,
    ) -> R<(Val, Option<RefInfo>)> {
        match (&b.v, &i.v) {
            (Json::Unknown(_), _) => Ok((b, r)),
            (_, Json::Unknown(_)) => Ok((i.clone(), None)),
            (Json::Arr(a), _) => match i
                .as_i64()
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| a.get(n))
            {
                Some(v) => Ok((v.clone(), r)),
                None => match r {
                    Some(info) => Ok((
                        self.deploy_time(&info, &format!("[{}]", i.as_i64().unwrap_or(-1)), at),
                        None,
                    )),
                    None => self.fail(
                        pos,
                        format!(
                            "index {} is outside the array (length {})",
                            show(i),
                            a.len()
                        ),
                    ),
                },
            },
            (Json::Obj(_), Json::Str(k)) => self.member(b.clone(), k, r, pos, at),
            _ => self.fail(
                pos,
                format!("cannot index {} with {}", b.describe(), i.describe()),
            ),
        }
    }

    /// A property that the declared resource does not carry: assigned by Azure at deploy time.
    fn deploy_time(&mut self, info: &RefInfo, key: &str, pos: Pos) -> Val {
        let set = format!("{}.{}", info.name, key);
        if let Some((_, v)) = self
            .opts
            .sets
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&set))
        {
            self.used_sets.push(set);
            return Val::str(v.clone(), pos);
        }
        let is_fw = info
            .type_name
            .eq_ignore_ascii_case("Microsoft.Network/azureFirewalls");
        if is_fw && key.eq_ignore_ascii_case("privateIPAddress") && self.opts.assume_firewall_ip {
            if let Some(a) = self.firewall_address(&info.body) {
                self.notes.push(format!(
                    "assumed: firewall '{}' private IP is {a}, the first usable address of AzureFirewallSubnet",
                    info.name
                ));
                return Val::str(a, pos);
            }
        }
        let hint = if is_fw && key.eq_ignore_ascii_case("privateIPAddress") {
            " or pass --assume-firewall-ip (first usable address of AzureFirewallSubnet)"
                .to_string()
        } else {
            String::new()
        };
        Val::new(
            Json::Unknown(format!(
                "[{}]: '{key}' of {} '{}' is assigned by Azure at deploy time; supply it with --set {set}=VALUE{hint}",
                self.current_expr, info.type_name, info.name
            )),
            pos,
        )
    }

    /// The 4th address of the firewall's subnet (.4 in a /26).
    fn firewall_address(&self, body: &Val) -> Option<String> {
        let cfg = body.key("ipConfigurations")?.as_arr()?.first()?;
        let sid = cfg.path(&["properties", "subnet", "id"])?.as_str()?;
        let p = self.subnets.get(&sid.to_ascii_lowercase())?;
        let net: ipnet::Ipv4Net = p.parse().ok()?;
        Some(std::net::Ipv4Addr::from(u32::from(net.network()).checked_add(4)?).to_string())
    }

    /// Looks a variable up (case-insensitively), evaluating it once.
    pub(crate) fn variable(&mut self, d: &mut Dep, name: &str, pos: Pos) -> R<Val> {
        if self.nesting >= MAX_EVAL_NESTING {
            return self.fail(
                pos,
                format!("variables nest deeper than {MAX_EVAL_NESTING} levels"),
            );
        }
        self.nesting += 1;
        let r = self.variable_inner(d, name, pos);
        self.nesting -= 1;
        r
    }

    fn variable_inner(&mut self, d: &mut Dep, name: &str, pos: Pos) -> R<Val> {
        let key = name.to_ascii_lowercase();
        match d.vars.remove(&key) {
            None => self.fail(pos, format!("variable '{name}' is not declared")),
            Some(Lazy::Done(v)) => {
                d.vars.insert(key, Lazy::Done(v.clone()));
                Ok(v)
            }
            Some(Lazy::Busy) => {
                d.vars.insert(key, Lazy::Busy);
                self.fail(
                    pos,
                    format!("variable '{name}' depends on itself (a cycle in variables)"),
                )
            }
            Some(Lazy::Todo(raw)) => {
                d.vars.insert(key.clone(), Lazy::Busy);
                let r = match copy_var(&raw) {
                    Some(c) => {
                        let n = c
                            .key("name")
                            .and_then(Val::as_str)
                            .unwrap_or("")
                            .to_string();
                        self.copy_array(d, &Env::default(), &c, &n)
                    }
                    None => self.value(d, &Env::default(), &raw),
                };
                match r {
                    Ok(v) => {
                        d.vars.insert(key, Lazy::Done(v.clone()));
                        Ok(v)
                    }
                    Err(()) => {
                        d.vars.insert(key, Lazy::Todo(raw));
                        Err(())
                    }
                }
            }
        }
    }

    /// Looks a parameter up (case-insensitively), evaluating its default once.
    pub(crate) fn parameter(&mut self, d: &mut Dep, name: &str, pos: Pos) -> R<Val> {
        if self.nesting >= MAX_EVAL_NESTING {
            return self.fail(
                pos,
                format!("parameters nest deeper than {MAX_EVAL_NESTING} levels"),
            );
        }
        self.nesting += 1;
        let r = self.parameter_inner(d, name, pos);
        self.nesting -= 1;
        r
    }

    fn parameter_inner(&mut self, d: &mut Dep, name: &str, pos: Pos) -> R<Val> {
        let key = name.to_ascii_lowercase();
        match d.params.remove(&key) {
            None => self.fail(pos, format!("parameter '{name}' is not declared")),
            Some(Lazy::Done(v)) => {
                d.params.insert(key, Lazy::Done(v.clone()));
                Ok(v)
            }
            Some(Lazy::Busy) => {
                d.params.insert(key, Lazy::Busy);
                self.fail(pos, format!("parameter '{name}' default depends on itself"))
            }
            Some(Lazy::Todo(raw)) => {
                d.params.insert(key.clone(), Lazy::Busy);
                let r = self.value(d, &Env::default(), &raw);
                let v = r.unwrap_or_else(|()| Val::null(raw.pos));
                d.params.insert(key, Lazy::Done(v.clone()));
                Ok(v)
            }
        }
    }

    pub(crate) fn fail<T>(&mut self, pos: Pos, msg: impl Into<String>) -> R<T> {
        let diag = self.files.diag(pos, msg);
        if !self.errors.contains(&diag) {
            self.errors.push(diag);
        }
        Err(())
    }
}

const COPY_VAR: &str = "\u{0}copy-variable";

fn tag_copy_var(v: Val) -> Val {
    obj(vec![(COPY_VAR, v)], Pos::default())
}

fn copy_var(v: &Val) -> Option<Val> {
    let inner = v.as_obj()?.iter().find(|(k, _)| k == COPY_VAR)?.1.clone();
    inner.key("copy")?.as_arr()?.first().cloned()
}

fn clone_lazies(m: &HashMap<String, Lazy>) -> HashMap<String, Lazy> {
    m.iter()
        .map(|(k, v)| {
            let c = match v {
                Lazy::Todo(x) => Lazy::Todo(x.clone()),
                Lazy::Done(x) => Lazy::Done(x.clone()),
                Lazy::Busy => Lazy::Busy,
            };
            (k.clone(), c)
        })
        .collect()
}

/// `v` placed at `pos`, except deploy-time values, which keep their expression's place.
pub(crate) fn placed(v: Val, pos: Pos) -> Val {
    match v.v {
        Json::Unknown(_) => v,
        _ => Val { pos, ..v },
    }
}

pub(crate) fn obj(members: Vec<(&str, Val)>, pos: Pos) -> Val {
    Val::new(
        Json::Obj(
            members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        ),
        pos,
    )
}

fn clip(s: &str) -> String {
    if s.len() > 120 {
        let mut end = 120;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

pub(crate) fn show(v: &Val) -> String {
    match &v.v {
        Json::Str(s) => format!("'{s}'"),
        Json::Int(i) => i.to_string(),
        _ => v.describe().to_string(),
    }
}
